"""An image's description: the text a person gives with an upload, used as the share
page's alt text and OpenGraph description.

The rules, the same wherever a description is read (the upload form, the job message):

- UTF-8 text, at most ``MAX_DESCRIPTION_CHARACTERS`` characters (code points) once its
  line breaks are normalized;
- line breaks (CR LF, CR or LF: a browser sends a textarea's as CR LF) become LF and are
  kept, so a description written over several lines reads as written; tabs are kept;
- every other control character (Unicode category Cc: C0, DEL, C1) is refused, since it
  would be invisible in a page or a card and can break the clients that show it;
- whitespace around the text is removed, and a description that is empty once removed
  is no description at all.
"""

import re

MAX_DESCRIPTION_CHARACTERS = 1500
# The most bytes a description can take in a form: four UTF-8 bytes per character (a line
# break sent as CR LF takes two, so never more).
MAX_DESCRIPTION_BYTES = 4 * MAX_DESCRIPTION_CHARACTERS
_LINE_BREAK = re.compile(r"\r\n?")
# Unicode's category Cc (U+0000-U+001F, U+007F-U+009F) but LF and TAB.
_REFUSED_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class InvalidDescription(ValueError):
    """A description we refuse; ``str(exc)`` is a message for the person who sent it."""


def description_from_form(data: bytes) -> str | None:
    """The description a form field carries, normalized; None when it is blank.

    Raises ``InvalidDescription`` when it is not UTF-8 or breaks a rule above.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDescription("The description must be UTF-8 text.") from exc
    return normalized_description(text)


def normalized_description(text: str) -> str | None:
    """``text`` with its line breaks as LF and no surrounding whitespace; None when that
    leaves nothing. Raises ``InvalidDescription`` for a control character or past the
    length limit."""
    # Controls are looked for before stripping: str.strip() removes some of them too.
    text = _LINE_BREAK.sub("\n", text)
    control = _REFUSED_CONTROL.search(text)
    if control is not None:
        raise InvalidDescription(
            f"The description contains a control character (U+{ord(control.group()):04X} "
            f"at character {control.start() + 1}); only line breaks and tabs are allowed."
        )
    text = text.strip()
    if len(text) > MAX_DESCRIPTION_CHARACTERS:
        raise InvalidDescription(
            f"The description has {len(text):,} characters; at most "
            f"{MAX_DESCRIPTION_CHARACTERS:,} are allowed."
        )
    return text or None
