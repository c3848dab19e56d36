"""Base model and bilingual text."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Immutable definition: unknown keys are errors, values cannot change after load."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Text(Frozen):
    """A text in Italian and English; either may be missing, never both."""

    it: str = ""
    en: str = ""

    def get(self, lang: str = "it") -> str:
        """The text in ``lang``, falling back to the other language."""
        first, second = (self.it, self.en) if lang == "it" else (self.en, self.it)
        return first or second

    def __bool__(self) -> bool:
        return bool(self.it or self.en)
