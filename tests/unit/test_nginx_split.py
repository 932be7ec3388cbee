"""Which server_name entries a certificate covers (the nginx installer splits a block whose
entries it does not all cover)."""

from __future__ import annotations

import pytest
from certbot_like_nginx.choice import covered


@pytest.mark.parametrize(
    ("entry", "names", "expected"),
    [
        ("a.test", ["a.test"], True),
        ("A.Test.", ["a.test"], True),
        ("b.test", ["a.test"], False),
        ("www.a.test", ["*.a.test"], True),
        ("x.www.a.test", ["*.a.test"], False),
        ("*.a.test", ["*.a.test"], True),
        ("*.a.test", ["www.a.test"], False),
        (".a.test", ["*.a.test"], False),
        (".a.test", ["*.a.test", "a.test"], True),
        ("mail.*", ["mail.a.test"], False),
        (r"~^(\w+)\.a\.test$", ["www.a.test"], False),
        ("_", ["a.test"], True),
        ("", ["a.test"], True),
    ],
)
def test_covered(entry: str, names: list[str], expected: bool) -> None:
    assert covered(entry, names) is expected
