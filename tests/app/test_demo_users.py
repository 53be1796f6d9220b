"""The demo's people: the top bar shows "Sam (listener)" from the name and the role; a name that
carried its role as well read "Sam (listener) (listener)"."""

import re

from app.demo import DEMO_USERS


def test_no_demo_name_repeats_its_role():
    for user in DEMO_USERS:
        assert not re.search(rf"\({user.role}\)", user.display_name, re.IGNORECASE), user
