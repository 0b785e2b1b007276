"""The client's address through the proxies we are told to trust."""

from server.request_log import client_address


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address("10.0.0.9", ["1.2.3.4"], 0) == "10.0.0.9"


def test_behind_cloudfront_and_the_balancer_the_viewer_is_second_from_the_right() -> None:
    # The client wrote 6.6.6.6 itself; CloudFront appended the viewer, the balancer CloudFront.
    forwarded = ["6.6.6.6, 203.0.113.7", "130.176.0.1"]
    assert client_address("10.0.0.9", forwarded, 2) == "203.0.113.7"


def test_too_short_a_chain_did_not_pass_every_proxy_so_the_peer_is_used() -> None:
    assert client_address("10.0.0.9", ["203.0.113.7"], 2) == "10.0.0.9"
    assert client_address("10.0.0.9", [], 1) == "10.0.0.9"


def test_a_trusted_entry_that_is_no_address_gives_way_to_the_proxy_that_wrote_it() -> None:
    for bad in ("<script>", "unknown", "1.2.3.4:80", "999.1.1.1", "fe80::1%eth0 x", "_"):
        forwarded = [f"6.6.6.6, {bad}", "130.176.0.1"]
        assert client_address("10.0.0.9", forwarded, 2) == "130.176.0.1"
        assert client_address("10.0.0.9", [bad], 1) == "10.0.0.9"
    assert client_address("10.0.0.9", ["2001:db8::7"], 1) == "2001:db8::7"
