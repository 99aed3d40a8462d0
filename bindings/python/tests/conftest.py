"""Shared fixtures of the herd Python tests.

Every test runs under a leak check: after it, once its objects are
collected, the process holds exactly the C handles it held before
(herd.live_handles() counts them by kind).
"""

import gc
import os
import sys

import numpy as np
import pandas as pd
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the package in place

import herd  # noqa: E402


@pytest.fixture(autouse=True)
def no_handle_leaks():
    gc.collect()
    before = herd.live_handles()
    yield
    gc.collect()
    after = herd.live_handles()
    assert after == before, "C handles leaked by the test: before %s, after %s" % (before, after)


def make_sales(groups=6, weeks=60, seed=0, shift=0.0):
    """Weekly sales of `groups` stores: y depends on price and promo."""
    rng = np.random.default_rng(seed)
    n = groups * weeks
    store = np.repeat(["S%03d" % g for g in range(groups)], weeks)
    week = np.tile(np.arange(weeks, dtype=np.int64), groups)
    price = rng.uniform(5, 10, n)
    promo = (rng.uniform(size=n) < 0.2).astype(np.float64)
    level = np.repeat(rng.uniform(20, 80, groups), weeks)
    sales = level * (price / 7.5) ** -1.2 * (1 + 0.5 * promo) * (1 + shift) + rng.normal(0, 1, n)
    return pd.DataFrame({"store": store, "week": week, "price": price, "promo": promo,
                         "sales": sales})


@pytest.fixture
def sales():
    return make_sales()


FIT = dict(features=["price", "promo"], label="sales", rounds=10, threads=2)
