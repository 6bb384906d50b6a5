"""Butcher tableaus of the explicit Runge-Kutta methods (methods as data)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction as F

__all__ = ["ButcherTableau", "TABLEAUS"]


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge-Kutta method: ``c``, strictly lower triangular ``a``,
    weights ``b`` and, for embedded pairs, the weights ``b_err`` of the
    lower-order solution used to estimate the local error.

    Attributes:
        name: the method's name.
        order: order of the propagated solution.
        a: rows of the tableau (row i has i entries).
        b: weights of the propagated solution.
        c: nodes.
        b_err: weights of the embedded solution (or None).
        err_order: order of the embedded solution.
    """

    name: str
    order: int
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    b_err: tuple[float, ...] | None = None
    err_order: int | None = None

    def __post_init__(self):
        s = len(self.b)
        if len(self.c) != s or len(self.a) != s or any(len(r) != i for i, r in enumerate(self.a)):
            raise ValueError(f"Tableau {self.name}: a, b, c have inconsistent sizes.")
        if abs(sum(self.b) - 1) > 1e-12:
            raise ValueError(f"Tableau {self.name}: weights b must sum to 1.")
        for i, row in enumerate(self.a):
            if abs(sum(row) - self.c[i]) > 1e-12:
                raise ValueError(f"Tableau {self.name}: row {i} of a must sum to c[{i}].")

    @property
    def stages(self) -> int:
        """Number of stages (the length of ``b``)."""
        return len(self.b)


def _t(name, order, a, b, c, b_err=None, err_order=None) -> ButcherTableau:
    fl = lambda xs: tuple(float(x) for x in xs)  # noqa: E731
    return ButcherTableau(
        name,
        order,
        tuple(fl(r) for r in a),
        fl(b),
        fl(c),
        fl(b_err) if b_err is not None else None,
        err_order,
    )


_S5 = math.sqrt(5.0)

TABLEAUS: dict[str, ButcherTableau] = {
    t.name: t
    for t in [
        _t("euler", 1, [[]], [1], [0]),
        _t("midpoint", 2, [[], [F(1, 2)]], [0, 1], [0, F(1, 2)]),
        _t("heun2", 2, [[], [1]], [F(1, 2), F(1, 2)], [0, 1]),
        _t("ralston2", 2, [[], [F(2, 3)]], [F(1, 4), F(3, 4)], [0, F(2, 3)]),
        _t("heun3", 3, [[], [F(1, 3)], [0, F(2, 3)]], [F(1, 4), 0, F(3, 4)], [0, F(1, 3), F(2, 3)]),
        _t(
            "ralston3",
            3,
            [[], [F(1, 2)], [0, F(3, 4)]],
            [F(2, 9), F(1, 3), F(4, 9)],
            [0, F(1, 2), F(3, 4)],
        ),
        _t("rk3", 3, [[], [F(1, 2)], [-1, 2]], [F(1, 6), F(2, 3), F(1, 6)], [0, F(1, 2), 1]),
        _t(
            "ssprk3", 3, [[], [1], [F(1, 4), F(1, 4)]], [F(1, 6), F(1, 6), F(2, 3)], [0, 1, F(1, 2)]
        ),
        _t(
            "rk4",
            4,
            [[], [F(1, 2)], [0, F(1, 2)], [0, 0, 1]],
            [F(1, 6), F(1, 3), F(1, 3), F(1, 6)],
            [0, F(1, 2), F(1, 2), 1],
        ),
        _t(
            "rk4_38",
            4,
            [[], [F(1, 3)], [F(-1, 3), 1], [1, -1, 1]],
            [F(1, 8), F(3, 8), F(3, 8), F(1, 8)],
            [0, F(1, 3), F(2, 3), 1],
        ),
        _t(
            "ralston4",
            4,
            [
                [],
                [0.4],
                [(-2889 + 1428 * _S5) / 1024, (3785 - 1620 * _S5) / 1024],
                [
                    (-3365 + 2094 * _S5) / 6040,
                    (-975 - 3046 * _S5) / 2552,
                    (467040 + 203968 * _S5) / 240845,
                ],
            ],
            [
                (263 + 24 * _S5) / 1812,
                (125 - 1000 * _S5) / 3828,
                1024 * (3346 + 1623 * _S5) / 5924787,
                (30 - 4 * _S5) / 123,
            ],
            [0, 0.4, 7 / 8 - 3 * _S5 / 16, 1],
        ),
        # embedded pairs (adaptive)
        _t(
            "bs3",
            3,
            [[], [F(1, 2)], [0, F(3, 4)], [F(2, 9), F(1, 3), F(4, 9)]],
            [F(2, 9), F(1, 3), F(4, 9), 0],
            [0, F(1, 2), F(3, 4), 1],
            b_err=[F(7, 24), F(1, 4), F(1, 3), F(1, 8)],
            err_order=2,
        ),
        _t(
            "rkf45",
            4,
            [
                [],
                [F(1, 4)],
                [F(3, 32), F(9, 32)],
                [F(1932, 2197), F(-7200, 2197), F(7296, 2197)],
                [F(439, 216), -8, F(3680, 513), F(-845, 4104)],
                [F(-8, 27), 2, F(-3544, 2565), F(1859, 4104), F(-11, 40)],
            ],
            [F(25, 216), 0, F(1408, 2565), F(2197, 4104), F(-1, 5), 0],
            [0, F(1, 4), F(3, 8), F(12, 13), 1, F(1, 2)],
            b_err=[F(16, 135), 0, F(6656, 12825), F(28561, 56430), F(-9, 50), F(2, 55)],
            err_order=5,
        ),
        _t(
            "cash_karp",
            5,
            [
                [],
                [F(1, 5)],
                [F(3, 40), F(9, 40)],
                [F(3, 10), F(-9, 10), F(6, 5)],
                [F(-11, 54), F(5, 2), F(-70, 27), F(35, 27)],
                [F(1631, 55296), F(175, 512), F(575, 13824), F(44275, 110592), F(253, 4096)],
            ],
            [F(37, 378), 0, F(250, 621), F(125, 594), 0, F(512, 1771)],
            [0, F(1, 5), F(3, 10), F(3, 5), 1, F(7, 8)],
            b_err=[F(2825, 27648), 0, F(18575, 48384), F(13525, 55296), F(277, 14336), F(1, 4)],
            err_order=4,
        ),
        _t(
            "dopri5",
            5,
            [
                [],
                [F(1, 5)],
                [F(3, 40), F(9, 40)],
                [F(44, 45), F(-56, 15), F(32, 9)],
                [F(19372, 6561), F(-25360, 2187), F(64448, 6561), F(-212, 729)],
                [F(9017, 3168), F(-355, 33), F(46732, 5247), F(49, 176), F(-5103, 18656)],
                [F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84)],
            ],
            [F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84), 0],
            [0, F(1, 5), F(3, 10), F(4, 5), F(8, 9), 1, 1],
            b_err=[
                F(5179, 57600),
                0,
                F(7571, 16695),
                F(393, 640),
                F(-92097, 339200),
                F(187, 2100),
                F(1, 40),
            ],
            err_order=4,
        ),
    ]
}
TABLEAUS["rk2"] = TABLEAUS["midpoint"]
TABLEAUS["heun"] = TABLEAUS["heun2"]
