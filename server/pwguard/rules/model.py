"""The rule language as pydantic models (see DESIGN.md "Rule language").

Models validate *shape and types* only; everything that needs judgement (portable
selectors, over-generic phrases, host permissions, examples) is a lint check in
`pwguard.lint`, so that it can be reported with a code, a line and a fix.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

ID_PATTERN = r"^[a-z0-9-]+$"

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Control(_Strict):
    """A checkbox-like control matches when its own element matches `selector`, or when its
    label text contains one of the `label` phrases (after folding). Exactly one of the two."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["selector"]}, {"required": ["label"]}]}
    )

    selector: NonEmpty | None = None
    label: list[str] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Control:
        if (self.selector is None) == (self.label is None):
            raise ValueError("a control needs exactly one of `selector` or `label`")
        return self


class RequestGuard(_Strict):
    """Refuse `method` requests to URL paths matching the glob `path` whose JSON body has one
    of the `json_true` fields set to `true` at any depth."""

    method: str
    path: NonEmpty
    json_true: list[str]


class Examples(_Strict):
    """Fixture pages (paths or globs relative to the `fixtures/` folder beside the rule file)."""

    match: list[str] = Field(default_factory=list)
    no_match: list[str] = Field(default_factory=list)


class Rule(_Strict):
    id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    title: NonEmpty
    why: NonEmpty
    action: Literal["block", "warn"] = "block"
    sites: list[str]
    controls: list[Control]
    request: RequestGuard | None = None
    message: dict[str, str]
    help: NonEmpty
    examples: Examples | None = None


class RuleSet(_Strict):
    """All rules of all files, in file order then rule order."""

    rules: list[Rule]

    def by_id(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)


class RuleFile(_Strict):
    """The root of one rule file (used for the JSON Schema of editors)."""

    rules: list[Rule]
