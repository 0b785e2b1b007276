"""Delete tokens as a person pastes them into ``sharer delete URL --token T``."""

import argparse

from sharer.delete_tokens import new_delete_token, token_digest, token_matches

# Without the rule one token in 64 starts with "-": 2,000 draws all missing it by chance
# is a 1e-14 event.
DRAWS = 2000


def test_no_token_starts_with_a_dash_that_a_command_line_takes_for_an_option() -> None:
    tokens = [new_delete_token() for _ in range(DRAWS)]
    assert [t for t in tokens if t.startswith("-")] == []
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--token", required=True)
    assert all(parser.parse_args(["--token", t]).token == t for t in tokens)


def test_tokens_are_fresh_and_match_only_their_digest() -> None:
    first, second = new_delete_token(), new_delete_token()
    assert first != second
    assert len(first) == 43
    assert token_matches(first, token_digest(first))
    assert not token_matches(second, token_digest(first))
