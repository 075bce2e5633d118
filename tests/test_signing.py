"""The signed bundle of docs/internals.md: Ed25519 over the payload's bytes, key ids, keygen."""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pwguard.api import keys
from pwguard.api.signing import (
    PRIVATE_KEY_NAME,
    BundleError,
    SigningKeyError,
    canonical_json,
    generate_key_file,
    key_id,
    load_private_key,
    parse_public_keys,
    private_key_pem,
    public_key_b64,
    sign_bundle,
    signed_by,
    verify_bundle,
)

PAYLOAD = canonical_json({
    "format": 1,
    "version": "0123456789abcdef",
    "rules": [{"id": "keep-sessions", "message": {"en": "Don’t tick “this”", "es": "No marque ñ"}}],
})


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_bundle_has_the_documented_shape_and_verifies_with_its_public_key(key):
    bundle = sign_bundle(PAYLOAD, key)
    obj = json.loads(bundle)
    assert sorted(obj) == ["format", "key_id", "payload", "signature"]
    assert obj["format"] == "pwguard-bundle/1"
    assert obj["payload"].encode("utf-8") == PAYLOAD
    assert obj["key_id"] == hashlib.sha256(base64.b64decode(public_key_b64(key))).hexdigest()[:16]
    # what the extension does: verify over the UTF-8 bytes of the payload string
    pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64(key)))
    pub.verify(base64.b64decode(obj["signature"]), obj["payload"].encode("utf-8"))
    assert verify_bundle(bundle, public_key_b64(key)) == json.loads(PAYLOAD)


def test_signed_size_is_the_length_of_the_signed_bundle(key):
    # lint's F009 measures the bundle without a key: it must measure what signing makes
    from pwguard.rules.bundle import signed_size

    for payload in (PAYLOAD, canonical_json({"a": 'quote " backslash \\ line\n ñ \u2028'})):
        assert signed_size(payload) == len(sign_bundle(payload, key))


def test_changing_any_single_byte_of_the_bundle_fails_verification(key):
    bundle = sign_bundle(PAYLOAD, key)
    pub = public_key_b64(key)
    for i in range(len(bundle)):
        tampered = bytearray(bundle)
        tampered[i] ^= 0x01
        with pytest.raises(BundleError):
            verify_bundle(bytes(tampered), pub)


def test_bundle_signed_by_another_key_is_refused_and_rotation_lists_are_accepted(key):
    other = Ed25519PrivateKey.generate()
    bundle = sign_bundle(PAYLOAD, other)
    with pytest.raises(BundleError, match="none of the given public key"):
        verify_bundle(bundle, public_key_b64(key))
    both = f"{public_key_b64(key)}, {public_key_b64(other)}\n"
    assert verify_bundle(bundle, both)["version"] == "0123456789abcdef"


@pytest.mark.parametrize("bad", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_bad_public_key_settings_are_refused_with_the_fix(bad):
    with pytest.raises(SigningKeyError, match=r"pwguard keygen|32-byte"):
        parse_public_keys(bad)


def test_private_key_loads_from_pem_file_pem_text_and_base64_seed(tmp_path: Path, key):
    pem = private_key_pem(key)
    path = tmp_path / "k.pem"
    path.write_bytes(pem)
    seed = base64.b64encode(key.private_bytes_raw()).decode()
    for value in (str(path), pem.decode(), seed):
        assert public_key_b64(load_private_key(value)) == public_key_b64(key)


@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_signing_key_in_quotes_an_env_file_kept_says_to_remove_them(tmp_path, key, quote):
    # `docker run --env-file` keeps the quotes: "no key file at "/etc/pwguard/..."; create one
    # with `pwguard keygen`" sent the admin to make a new key while theirs was there
    path = tmp_path / "pwguard-signing.key"
    path.write_bytes(private_key_pem(key))
    seed = base64.b64encode(key.private_bytes_raw()).decode()
    for value in (str(path), seed, private_key_pem(key).decode()):
        with pytest.raises(SigningKeyError) as refused:
            load_private_key(f"{quote}{value}{quote}")
        assert str(refused.value) == (
            "PWGUARD_SIGNING_KEY is in quotes, which are part of its value here (an env file "
            "read as is keeps them: `docker run --env-file`, unlike a shell): remove them")


def test_unusable_private_keys_name_the_setting_and_the_fix(tmp_path: Path):
    missing = r"PWGUARD_SIGNING_KEY: no key file at .*pwguard keygen"
    with pytest.raises(SigningKeyError, match=missing):
        load_private_key(str(tmp_path / "missing.key"))
    (tmp_path / "garbage.key").write_text("hello")
    with pytest.raises(SigningKeyError, match=r"garbage.key.*pwguard keygen"):
        load_private_key(str(tmp_path / "garbage.key"))



def test_the_folder_keygen_wrote_to_is_answered_with_the_key_file_in_it(tmp_path: Path):
    generate_key_file(tmp_path / PRIVATE_KEY_NAME)
    with pytest.raises(SigningKeyError) as info:
        load_private_key(str(tmp_path))
    assert str(info.value) == (f"PWGUARD_SIGNING_KEY: {tmp_path} is a folder; set "
                               f"PWGUARD_SIGNING_KEY to {tmp_path / PRIVATE_KEY_NAME}")

SEED = bytes(range(1, 33))
PEM_BODY = "".join(private_key_pem(Ed25519PrivateKey.from_private_bytes(SEED)).decode()
                   .splitlines()[1:-1])
MISPASTED = {  # key material in forms pwguard does not read: it was echoed as a missing path
    "pem-body": PEM_BODY,
    "unpadded": base64.b64encode(SEED).decode().rstrip("="),
    "seed-and-public": base64.b64encode(
        SEED + Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
    ).decode(),
    "hex": SEED.hex(),
    "url-safe": base64.urlsafe_b64encode(bytes(range(200, 232))).decode(),
    "pem-body-lines": PEM_BODY[:32] + "\n" + PEM_BODY[32:],
}


@pytest.mark.parametrize("value", MISPASTED.values(), ids=MISPASTED.keys())
def test_key_material_in_a_form_not_read_is_never_echoed_and_the_forms_are_named(value):
    with pytest.raises(SigningKeyError) as refused:
        load_private_key(value)
    message = str(refused.value)
    assert message == (
        f"PWGUARD_SIGNING_KEY ({len(value)} characters) names no file and looks like key "
        "material in a form pwguard does not read (PEM without its BEGIN/END lines, unpadded, "
        "URL-safe or 64-byte base64, hex): give the PEM text (with its BEGIN/END lines), the "
        "44-character base64 seed, or the key file's path (`pwguard keygen --out DIR` writes "
        "one)")
    assert not any(part in message for part in re.findall(r"[A-Za-z0-9+/=_-]{8,}", value))


def test_a_missing_key_file_is_still_named_and_a_value_with_control_characters_is_not(
    tmp_path: Path,
):
    for path in (tmp_path / "pwguard-signing.key", tmp_path / "keys" / ("Ab1" * 20),
                 Path("secrets/pwguard-signing-key")):
        with pytest.raises(SigningKeyError, match=re.escape(f"no key file at {path};")):
            load_private_key(str(path))
    with pytest.raises(SigningKeyError) as refused:
        load_private_key("not\ta path")
    assert str(refused.value).startswith("PWGUARD_SIGNING_KEY (10 characters) is neither a file "
                                         "path nor a key pwguard reads: give the PEM text")


def test_the_public_key_file_given_as_the_signing_key_is_refused(tmp_path: Path, capsys):
    # its base64 looks like a seed: the server started and signed with a key nobody trusts
    assert keys.main(["--out", str(tmp_path)]) == 0
    capsys.readouterr()
    public = tmp_path / keys.PUBLIC_NAME
    expected = r"is the public key .* set PWGUARD_SIGNING_KEY to .*pwguard-signing\.key"
    with pytest.raises(SigningKeyError, match=expected):
        load_private_key(str(public))
    renamed = tmp_path / "signing.b64"
    renamed.write_text(public.read_text())
    with pytest.raises(SigningKeyError, match=expected):
        load_private_key(str(renamed))
    assert load_private_key(str(tmp_path / keys.PRIVATE_NAME))  # the right file still loads


def test_signed_by_re_signs_only_other_keys_bundles_and_leaves_unreadable_ones(key):
    other = Ed25519PrivateKey.generate()
    mine = sign_bundle(PAYLOAD, key)
    assert signed_by(mine, key) == mine
    resigned = signed_by(sign_bundle(PAYLOAD, other), key)
    assert resigned == mine
    assert verify_bundle(resigned, public_key_b64(key))["version"] == "0123456789abcdef"
    for stored in (b"not json", b"[1]", b"{}", b'{"payload": 5}'):
        assert signed_by(stored, key) == stored  # a corrupt row must not turn into a 500


def test_keygen_writes_a_0600_private_key_and_prints_the_policy_public_key(tmp_path, capsys):
    assert keys.main(["--out", str(tmp_path / "k"), "--server-url", "https://rules.corp"]) == 0
    out = capsys.readouterr().out
    private = tmp_path / "k" / keys.PRIVATE_NAME
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = load_private_key(str(private))
    pub = public_key_b64(key)
    assert f"publicKey: {pub}" in out
    assert (tmp_path / "k" / keys.PUBLIC_NAME).read_text().strip() == pub
    # the two policy files, ready to save: Chrome's, then Firefox's policies.json
    decoder = json.JSONDecoder()
    chrome, end = decoder.raw_decode(out, out.index("{"))
    firefox, _ = decoder.raw_decode(out, out.index("{", end))
    policy = {"serverUrl": "https://rules.corp", "publicKey": pub, "pollMinutes": 5}
    assert chrome == {"3rdparty": {"extensions": {keys.CHROME_EXTENSION_ID: policy}}}
    assert firefox == {
        "policies": {"3rdparty": {"Extensions": {keys.FIREFOX_EXTENSION_ID: policy}}}}
    assert key_id(key) in out
    assert verify_bundle(sign_bundle(PAYLOAD, key), pub)["format"] == 1


def test_keygen_into_a_relative_folder_prints_the_absolute_key_path_to_set(
    tmp_path, monkeypatch, capsys
):
    # the server (a service, another folder) would not find a path relative to here
    monkeypatch.chdir(tmp_path)
    assert keys.main(["--out", "k"]) == 0
    assert f"PWGUARD_SIGNING_KEY={tmp_path / 'k' / keys.PRIVATE_NAME}\n" in capsys.readouterr().out


def test_keygen_that_cannot_write_the_public_key_leaves_no_private_key_behind(tmp_path, capsys):
    # the private key stayed, alone: the next keygen refused it as a key "bundles signed with
    # it stay valid" (none was ever signed) and wanted --force
    (tmp_path / keys.PUBLIC_NAME).mkdir()
    assert keys.main(["--out", str(tmp_path)]) == 2
    assert f"cannot write to {tmp_path}" in capsys.readouterr().err
    assert not (tmp_path / keys.PRIVATE_NAME).exists()
    (tmp_path / keys.PUBLIC_NAME).rmdir()
    assert keys.main(["--out", str(tmp_path)]) == 0
    pub = (tmp_path / keys.PUBLIC_NAME).read_text().strip()
    assert public_key_b64(load_private_key(str(tmp_path / keys.PRIVATE_NAME))) == pub


@pytest.mark.parametrize(
    ("url", "why"),
    [("rules.example.com", "is not a full http(s) address"),
     ("ftp://rules.example.com", "is not a full http(s) address"),
     ("https://", "is not a full http(s) address"),
     ("https://admin:pw@rules.example.com", "has a user name or password"),
     ("https://admin:pw@", "is not a full http(s) address"),
     ("https://rules.example.com/?x=1", 'has a "?" or "#" part'),
     ("https://rules.example.com/#top", 'has a "?" or "#" part'),
     ("https://rules.example.com/v1/rules", "is the rules' own address"),
     ("https://rules.example.com/pwguard/v1/rules/", "is the rules' own address")],
)
def test_keygen_refuses_a_server_url_the_extension_would_refuse_before_making_keys(
    tmp_path, capsys, url, why
):
    # the policy it printed carried the URL as given: the extension refuses it (its options
    # page names the policy key), on every browser the policy reached
    assert keys.main(["--out", str(tmp_path), "--server-url", url]) == 2
    err = capsys.readouterr().err
    shown = url.replace("admin:pw@", "***@")  # the password is never shown
    assert f"pwguard keygen: error: --server-url {shown!r} {why}" in err
    assert ":pw@" not in err
    assert "https://rules.example.com" in err.split(": give ", 1)[1]  # what to give instead
    assert not (tmp_path / keys.PRIVATE_NAME).exists()


def test_keygen_names_a_broken_symbolic_link_where_it_writes(tmp_path, capsys):
    # "cannot write to DIR: [Errno 17] File exists: 'DIR'": nothing there existed
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    assert keys.main(["--out", str(tmp_path / "gone")]) == 2
    assert capsys.readouterr().err == (
        f"pwguard keygen: cannot write to {tmp_path / 'gone'}: it is a broken symbolic link (to "
        f"{str(tmp_path / 'nowhere')!r}, which does not exist); fix or remove the link\n")
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / keys.PRIVATE_NAME).symlink_to("nowhere")
    assert keys.main(["--out", str(tmp_path / "k")]) == 2
    assert capsys.readouterr().err == (
        f"pwguard keygen: cannot write to {tmp_path / 'k' / keys.PRIVATE_NAME}: it is a broken "
        "symbolic link (to 'nowhere', which does not exist); fix or remove the link, or pass "
        "--force to replace it\n")
    assert keys.main(["--out", str(tmp_path / "k"), "--force"]) == 0


def test_keygen_refuses_to_overwrite_a_key_without_force(tmp_path, capsys):
    assert keys.main(["--out", str(tmp_path)]) == 0
    first = (tmp_path / keys.PRIVATE_NAME).read_bytes()
    capsys.readouterr()
    assert keys.main(["--out", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / keys.PRIVATE_NAME).read_bytes() == first
    first_pub = (tmp_path / keys.PUBLIC_NAME).read_text()
    assert keys.main(["--out", str(tmp_path), "--force"]) == 0
    assert (tmp_path / keys.PRIVATE_NAME).read_bytes() != first
    # the replaced pair is kept beside the new one, renamed: browsers trust only the old key
    # until their policy names the new one, so losing it would strand them
    out = capsys.readouterr().out
    kept_private = list(tmp_path.glob(keys.PRIVATE_NAME + ".replaced-*"))
    kept_public = list(tmp_path.glob(keys.PUBLIC_NAME + ".replaced-*"))
    assert len(kept_private) == len(kept_public) == 1
    assert kept_private[0].read_bytes() == first
    assert stat.S_IMODE(kept_private[0].stat().st_mode) == 0o600
    assert kept_public[0].read_text() == first_pub
    assert f"replaced:    {kept_private[0]}" in out
    # a second replacement within the same second keeps both older pairs
    assert keys.main(["--out", str(tmp_path), "--force"]) == 0
    assert len(list(tmp_path.glob(keys.PRIVATE_NAME + ".replaced-*"))) == 2


def test_keygen_force_that_cannot_write_the_new_pair_puts_the_old_one_back(
    tmp_path, capsys, monkeypatch
):
    # the old pair was renamed aside and nothing took its place: the server's
    # PWGUARD_SIGNING_KEY named a file that was gone
    assert keys.main(["--out", str(tmp_path)]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def full_disk(path: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(keys, "generate_key_file", full_disk)
    assert keys.main(["--out", str(tmp_path), "--force"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_keygen_force_that_cannot_set_the_public_key_aside_puts_the_private_one_back(
    tmp_path, capsys, monkeypatch
):
    # the private key was renamed NAME.replaced-..., the public key's rename failed (a file
    # bind-mounted into a container: EBUSY), and nothing put it back: the server's
    # PWGUARD_SIGNING_KEY named a file that was gone, and nothing said where it went
    assert keys.main(["--out", str(tmp_path)]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    rename = Path.rename

    def busy(self: Path, target: Path) -> Path:
        if self.name == keys.PUBLIC_NAME:
            raise OSError(errno.EBUSY, "Device or resource busy", str(self))
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", busy)
    assert keys.main(["--out", str(tmp_path), "--force"]) == 2
    assert "Device or resource busy" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
