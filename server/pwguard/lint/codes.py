# ruff: noqa: E501  (a table of prose: one code per line reads best)
"""The catalogue of lint codes: family letter + 3 digits, severity, one-line message, why it matters.

Families: F file/YAML, S schema, U sites, C controls/selectors, L label phrases,
M messages, H help link, R request guard, E examples, I inline silencing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pwguard.rules.finding import Severity


@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    summary: str
    why: str


FAMILIES = {
    "F": "file and YAML",
    "S": "schema",
    "U": "sites (match patterns)",
    "C": "controls and selectors",
    "L": "label phrases",
    "M": "messages",
    "H": "help link",
    "R": "request guard",
    "E": "examples",
    "I": "inline silencing",
    "P": "page scan (pwguard scan)",
}

_E: Severity = "error"
_W: Severity = "warning"
_TABLE: list[tuple[str, Severity, str, str]] = [
    (
        "F001",
        _E,
        "cannot read the file",
        "A rule file that cannot be read protects nobody, and a fixture page (or fixtures/harmless-controls.txt) that cannot be read checks nothing; the message says why (broken link, directory, named pipe, permissions...). `pwguard lint` exits 2: an I/O error.",
    ),
    (
        "F002",
        _E,
        "not UTF-8 text",
        "Rule files are UTF-8 text; binary or mis-encoded files would garble label phrases in other languages.",
    ),
    (
        "F003",
        _E,
        "file too large (a rule file over 1 MiB, a fixture page over 20 MiB)",
        "Rules are shipped to every browser and parsed on every sync; a huge file is a mistake or an attack. Split it. Fixture pages are saved pages: one over 20 MiB is not one.",
    ),
    (
        "F004",
        _E,
        "YAML syntax error or unsupported YAML",
        "The file must parse as plain YAML or JSON; custom tags and deep nesting are refused.",
    ),
    (
        "F005",
        _E,
        "duplicate mapping key",
        "YAML silently keeps the last of two equal keys, so half of what you wrote would be ignored.",
    ),
    (
        "F006",
        _E,
        "too many values after alias expansion",
        'Anchors/aliases that expand exponentially ("billion laughs") would exhaust the server\'s memory.',
    ),
    (
        "F007",
        _E,
        "the root is not a mapping with a `rules:` list",
        "A rule file is `rules:` followed by a list of rules.",
    ),
    ("F008", _E, "no rule files or no rules found", "An empty ruleset would silently remove all protection. A folder without *.yaml/*.yml files is more likely the wrong folder: `pwguard lint` then exits 2, as for a usage error."),
    (
        "F009",
        _E,
        "rules too large for the extension (signed bundle over 1 MiB)",
        "The extension refuses a rules answer over 1 MiB: every browser would keep its last rules at every sync, never taking these. Files under F003's limit can get there together, and so can one small file whose aliases repeat a long list in every rule.",
    ),
    (
        "S001",
        _E,
        "unknown field",
        "A misspelt field (say `acton`) would be ignored and the rule would not do what you think; the message suggests the closest field.",
    ),
    (
        "S002",
        _E,
        "missing required field",
        "Every rule needs id, title, why, sites, controls, message and help for the extension to enforce and explain it.",
    ),
    (
        "S003",
        _E,
        "wrong type or invalid value",
        "The extension validates the bundle the same way and would refuse the whole ruleset.",
    ),
    (
        "S004",
        _E,
        "invalid rule id",
        "Ids are `[a-z0-9-]+` so that they are stable in URLs, logs and silencing comments.",
    ),
    (
        "S005",
        _E,
        "a control needs exactly one of `selector` or `label`",
        "An entry with both is ambiguous; with neither it matches nothing.",
    ),
    (
        "S006",
        _E,
        "duplicate rule id",
        "Ids must be unique across all files: verdicts, logs and the extension refer to rules by id.",
    ),
    (
        "U001",
        _E,
        "invalid match pattern",
        "The browser would reject the pattern, or no URL can match it (a `#fragment`, a space or a non-ASCII character in its path: browsers match the percent-encoded path and query), and the rule would never run; write `https://host/*`.",
    ),
    (
        "U002",
        _E,
        "pattern is not https",
        "Zoho Accounts is served over https only; http/ws/* patterns widen the rule to insecure pages.",
    ),
    (
        "U003",
        _E,
        "pattern matches every site",
        "The extension must not touch checkboxes on unrelated sites; name the Zoho hosts.",
    ),
    (
        "U004",
        _E,
        "pattern outside the extension's host permissions",
        "The content script cannot run there, so the rule would silently do nothing.",
    ),
    (
        "U005",
        _W,
        "pattern covered only by the optional host permission",
        "It works only after an administrator grants the host at run time (white-label portals); make sure that is intended.",
    ),
    ("U006", _E, "no sites", "A rule without sites never runs."),
    (
        "U007",
        _W,
        "duplicate site pattern",
        "Listing a pattern twice is harmless but usually a copy-paste slip.",
    ),
    (
        "C001",
        _E,
        "invalid CSS selector",
        "The browser would throw on it and the rule would not protect anyone.",
    ),
    (
        "C002",
        _E,
        "selector outside the portable subset",
        "Only a subset that soupsieve and browsers evaluate identically keeps lint verdicts true in the browser; state pseudo-classes such as :checked change as the user clicks.",
    ),
    (
        "C003",
        _E,
        "selector matches a harmless control",
        "Blocking the harmless web-sessions box or an unrelated box gets the extension uninstalled; make the selector specific.",
    ),
    ("C004", _E, "no controls", "A rule without controls matches nothing."),
    (
        "C005",
        _W,
        "selector that cannot match a checkbox-like control as written",
        "A rule's selector is tested on checkbox-like controls only (input[type=checkbox], "
        "[role=checkbox], [role=switch]). An alternative whose last compound names another "
        "element (`a`, `div.toggle`, `label[for=ter_mob]`) matches a control only when that "
        "element has role=checkbox or role=switch: say so with [role=switch] (or "
        "[role=checkbox]) if it has, else select the box itself (input#ter_mob). An "
        "alternative whose [type]/[role] selectors no control can meet (`input[type=radio]"
        "[role=link]`) matches nothing. A warning: the rule still loads.",
    ),
    (
        "L001",
        _E,
        "empty label phrase",
        "An empty phrase is contained in every label: the rule would block every checkbox.",
    ),
    (
        "L002",
        _E,
        "label phrase too short",
        "A phrase of a few characters matches unrelated labels; quote a distinctive part of the label.",
    ),
    (
        "L003",
        _E,
        "label phrase of common words only, or of no words",
        "Words like 'terminate all sessions' also label the harmless web-sessions box; include the words that make the box dangerous (mobile, app, token...). A phrase of punctuation or invisible characters only names no box at all.",
    ),
    (
        "L004",
        _E,
        "label phrase matches a harmless control",
        "The phrase is contained in the label of a harmless control in the fixtures (web sessions, Remember me...): it is over-generic.",
    ),
    (
        "L005",
        _W,
        "duplicate label phrase",
        "The same phrase twice (after folding case, accents and spaces) is redundant.",
    ),
    (
        "M001",
        _E,
        "message without `en`",
        "English is the fallback when neither the page's nor the browser's language has a message.",
    ),
    (
        "M002",
        _W,
        "message without `es`",
        "Spanish-speaking users are a large share of Zoho's; the banner would fall back to English.",
    ),
    (
        "M003",
        _E,
        "message contains markup",
        "Messages are plain text set with textContent; markup would show literally (and must never be rendered as HTML).",
    ),
    (
        "M004",
        _E,
        "message too long for the banner",
        "The banner must be read in a glance: keep messages within 300 characters and link to `help` for details.",
    ),
    ("M005", _E, "empty message", "An empty banner explains nothing."),
    (
        "M006",
        _E,
        "invalid language tag",
        "Keys of `message` are BCP 47 language tags such as `en`, `es`, `pt-BR`, matched against `<html lang>`.",
    ),
    (
        "M007",
        _E,
        "title or why is not one plain line, or a message holds a carriage return",
        "Titles and whys are shown in the options page and logs as one line of text: no line "
        "feed, and no line or paragraph separator (U+2028, U+2029). A carriage "
        "return (U+000D), in them or in a message, makes a log or a terminal write the text "
        "after it over the text before: it would read other than the rule file does.",
    ),
    (
        "M008",
        _E,
        "text with a control or direction-override character",
        "A control character shows nothing, and a bidirectional override (U+202A-U+202E) shows "
        "the text after it reordered: the banner would read other than the rule file does. "
        "Direction marks and isolates (U+200E, U+200F, U+2066-U+2069) are allowed.",
    ),
    (
        "H001",
        _E,
        "help is not an https URL",
        "The banner links to it; a non-https or relative link is unsafe or broken.",
    ),
    (
        "H002",
        _E,
        "unknown placeholder in help",
        "Only `{host}` (the page's host) is replaced; any other `{...}` would end up in the URL.",
    ),
    (
        "R001",
        _E,
        "invalid request method",
        "The guard refuses PUT, POST, PATCH or DELETE requests (uppercase); other methods carry no JSON body to inspect.",
    ),
    (
        "R002",
        _E,
        "request path must be a URL path glob starting with `/` or `*`",
        "The path is a glob on the URL path (no query, no fragment, percent-encoded as browsers send it); `*` allows prefixes such as white-label `/accounts/p/<id>`.",
    ),
    ("R003", _E, "json_true is empty", "A guard without field names refuses nothing."),
    (
        "R005",
        _W,
        "request guard on a warn rule",
        "The extension refuses requests for `block` rules only; on a `warn` rule the guard protects nothing.",
    ),
    (
        "R004",
        _E,
        "json_true entry is not a field name",
        "Entries are JSON field names such as `rmappses` (letters, digits, underscores).",
    ),
    (
        "E001",
        _E,
        "example pattern matches no fixture file",
        "An example that does not exist tests nothing; paths are relative to the `fixtures/` folder beside the rule file.",
    ),
    (
        "E002",
        _E,
        "rule does not match a `match` example",
        "The engine found no control of that page covered by the rule: the rule would not protect that page.",
    ),
    (
        "E003",
        _E,
        "rule matches a `no_match` example",
        "The rule covers a control of a page it must leave alone.",
    ),
    (
        "E004",
        _W,
        "rule has no examples",
        "Without examples nothing proves the rule matches Zoho's real pages.",
    ),
    (
        "E005",
        _E,
        "example path leaves the fixtures folder",
        "Example paths are relative to `fixtures/` and may not be absolute or use `..`.",
    ),
    (
        "E006",
        _E,
        "invalid line in fixtures/harmless-controls.txt",
        "Each line is one selector of the portable subset (`#` then a space starts a comment); a broken line would let over-generic rules through.",
    ),
    (
        "E007",
        _E,
        "examples name too many pages",
        "Each example page is checked against its rule: rules whose examples name every fixture page (`**/*.html`) would keep `pwguard lint` and the server's gate busy for minutes and report a finding per page. Name the pages that show each rule working; over 100000 (rule, page) pairs in all, the rest are not checked.",
    ),
    (
        "I001",
        _E,
        "silencing comment without a reason",
        "Write why the finding is acceptable: `# pwguard: ignore[L002] reason`.",
    ),
    ("P001", _E, "dangerous-looking control not covered by any rule", "The control's label or its id/name looks like Zoho's sign-out-of-apps / API-token box, or it is a box Zoho's sign-out choices (form#pass_esc_devices, form#terminate_session_form) hold besides the known harmless ones, but no rule blocks it: after a redesign the guard may have gone blind. Add a selector or phrase to a rule (or, for a harmless box, check it and move on: scan only asks you to look)."),
    ("I002", _W, "silencing comment names an unknown code", "A typo in the code silences nothing."),
]

CODES: dict[str, Code] = {c: Code(c, sev, summary, why) for c, sev, summary, why in _TABLE}

# Findings of these families stop the ruleset loading (or say a file could not be read):
# hidden, the rules would look clean while serve, publish and scan refuse them. They can be
# neither silenced inline nor left out with --select/--ignore.
ALWAYS_REPORTED = ("F", "S")
ALWAYS_REPORTED_NOTE = (
    "F and S findings mean the rules (or a file they need) cannot be read or loaded, so they "
    "are always reported: a silencing comment does not hide them and --select/--ignore do not "
    "filter them out."
)


def always_reported(code: str) -> bool:
    return code.startswith(ALWAYS_REPORTED)


def severity(code: str) -> Severity:
    return CODES[code].severity
