"""Does a request's Accept header admit ``application/json``? (RFC 9110, section 12.5.1)"""

_JSON = ("application", "json")


def admits_json(accept: str | None) -> bool:
    """True when ``accept`` lets us answer JSON.

    No header (or an empty one) admits anything. Otherwise the most specific media range
    matching ``application/json`` decides (``application/json`` over ``application/*``
    over ``*/*``), and a quality of 0 means "not acceptable".
    """
    if accept is None or not accept.strip():
        return True
    best_specificity = -1
    best_quality = 0.0
    for media_range in accept.split(","):
        parsed = _parse_range(media_range)
        if parsed is None:
            continue
        specificity, quality = parsed
        if specificity > best_specificity:
            best_specificity, best_quality = specificity, quality
    return best_quality > 0


def _parse_range(text: str) -> tuple[int, float] | None:
    """(specificity, quality) of one media range if it matches JSON, else None."""
    kind, *params = (part.strip() for part in text.split(";"))
    main, sep, sub = kind.lower().partition("/")
    if not sep:
        return None
    if (main, sub) == _JSON:
        specificity = 2
    elif (main, sub) == (_JSON[0], "*"):
        specificity = 1
    elif (main, sub) == ("*", "*"):
        specificity = 0
    else:
        return None
    return specificity, _quality(params)


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            # Out-of-range or NaN weights are malformed; treat them as a refusal.
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0
