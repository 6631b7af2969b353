"""A long step's objects are kept out of full collections only for the step's length."""

from __future__ import annotations

import gc
import weakref

import pytest

from catalog.collector import frozen_while


@pytest.fixture(autouse=True)
def _the_real_collector(real_collector: None) -> None:
    """The suite's workers keep what they hold frozen, and steps leave it so (conftest's
    `_SessionFreeze`); these tests are of what a run's process does."""


class _Node:
    other: object


def _cycle() -> tuple[_Node, weakref.ref[_Node]]:
    node = _Node()
    node.other = node
    return node, weakref.ref(node)


def test_a_cycle_let_go_during_the_step_is_collected_once_it_ends() -> None:
    held, held_ref = _cycle()
    with frozen_while():
        assert gc.get_freeze_count() > 0
        del held
        gc.collect()
        assert held_ref() is not None, "frozen objects were walked"
    assert gc.get_freeze_count() == 0, "a long-lived process would keep every step's objects"
    gc.collect()
    assert held_ref() is None


def test_garbage_already_cyclic_is_not_kept_for_the_step() -> None:
    garbage, garbage_ref = _cycle()
    del garbage
    with frozen_while():
        assert garbage_ref() is None


def test_refcounting_frees_frozen_objects_at_once() -> None:
    plain = _Node()
    plain_ref = weakref.ref(plain)
    with frozen_while():
        del plain
        assert plain_ref() is None


def test_the_step_ending_in_an_error_unfreezes() -> None:
    try:
        with frozen_while():
            raise KeyError("stop")
    except KeyError:
        pass
    assert gc.get_freeze_count() == 0
