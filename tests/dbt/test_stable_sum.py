"""Totals do not depend on the order rows arrive in, so a rerun gives bit-identical KPIs."""

import math
import random

import duckdb

from support.dbt_runner import dbt_compile_inline

# kWh-like values over 16 orders of magnitude, as an hour of a big fleet has
_RNG = random.Random(7)
VALUES = [_RNG.uniform(0, 1) * 10 ** e for e in range(-8, 8) for _ in range(12)]


def _sum_in_orders(expr_sql: str) -> set[float]:
    results = set()
    con = duckdb.connect()
    for order in (VALUES, VALUES[::-1], sorted(VALUES), sorted(VALUES, reverse=True)):
        rows = ", ".join(f"({i}, {v!r}::double)" for i, v in enumerate(order))
        # ordered input, one thread: the summation order is the row order
        con.execute("set threads = 1")
        results.add(con.execute(f"select {expr_sql} from (select x from (values {rows}) t(i, x) order by i)").fetchone()[0])
    return results


def test_plain_double_sum_depends_on_order_and_stable_sum_does_not(tmp_path):
    # the premise: summing these doubles in different orders gives different last bits
    assert len(_sum_in_orders("sum(x)")) > 1
    stable = dbt_compile_inline("select {{ stable_sum('x') }}", tmp_path / "w.duckdb").removeprefix("select ")
    results = _sum_in_orders(stable)
    assert len(results) == 1
    assert results.pop() == math.fsum(VALUES)  # and it is the correctly rounded total
    mean = dbt_compile_inline("select {{ stable_avg('x') }}", tmp_path / "w.duckdb").removeprefix("select ")
    assert _sum_in_orders(mean) == {_sum_in_orders(stable).pop() / len(VALUES)}
