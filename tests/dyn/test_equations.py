"""Equation strings (issue #20): parsing, flags, names, units and the errors, each
refused when the equations (or the group) are built, naming the equation, the term and
the units."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import EquationError, Equations
from neurodyn.dyn._codegen import Compiler, Const
from neurodyn.dyn._equations import parse_expression, parse_statements, parse_unit


def test_three_kinds_of_line_comments_and_multiline_expressions():
    eqs = Equations(
        """
        # a comment line
        dv/dt = (gl*(El - v)   # leak
                 + I_syn) / C
                : volt (unless refractory)
        I_syn = ge*(Ee - v) : amp        # subexpression
        dge/dt = -ge/taue : siemens
        gl : siemens (constant, shared)
        flag : boolean
        count : integer
        """
    )
    assert eqs.diff_eq_names == ("v", "ge")
    assert eqs.subexpr_names == ("I_syn",)
    assert eqs.parameter_names == ("gl", "flag", "count")
    assert eqs["v"].flags == ("unless refractory",)
    assert eqs["gl"].flags == ("constant", "shared")
    assert eqs["v"].expr.code == "(gl*(El - v) + I_syn) / C"
    assert eqs["v"].line == 3
    assert eqs["flag"].var_type == "boolean" and eqs["count"].var_type == "integer"
    assert eqs["v"].dim is u.volt.dim and eqs["gl"].dim is u.siemens.dim
    assert sorted(eqs.identifiers) == ["C", "Ee", "El", "taue"]


@pytest.mark.parametrize(
    "text, unit",
    [
        ("volt", u.volt),
        ("mV", u.mV),
        ("nS/cm**2", u.nS / u.cm**2),
        ("siemens/meter**2", u.siemens / u.metre**2),
        ("msiemens/cm2", u.mS / u.cm**2),
        ("umetre2", u.um**2),
        ("amp/meter**2", u.amp / u.metre**2),
        ("mol/meter**3", u.mol / u.metre**3),
        ("1", u.dimensionless),
        ("hertz", u.Hz),
    ],
)
def test_units_of_declarations_are_read_by_the_unit_parser(text, unit):
    got, var_type = parse_unit(text)
    assert var_type == "float" and got.dim is unit.dim
    assert float(got.scale) == pytest.approx(float(unit.scale), rel=1e-12)


def test_xi_noise_and_the_stochastic_variables():
    eqs = Equations(
        """
        dx/dt = -x/tau + s*xi_1*tau**-0.5 : 1
        dy/dt = -y/tau + s*xi_2*tau**-0.5 + sigma*xi/sqrt(tau) : 1
        """
    )
    assert sorted(eqs.stochastic_variables) == ["xi", "xi_1", "xi_2"] and eqs.is_stochastic


def test_constants_and_renames_given_to_equations():
    eqs = Equations("dv/dt = -v/tau : volt", tau=10 * u.ms, v="V")
    assert eqs.diff_eq_names == ("V",) and eqs["V"].expr.code == "-V / tau"
    assert eqs.constants["tau"] == 10 * u.ms
    both = eqs + Equations("w : 1")
    assert both.names == ("V", "w")
    with pytest.raises(EquationError, match="defined in both"):
        eqs + Equations("V : volt")


def test_a_dimension_mismatch_names_the_equation_the_term_and_both_units():
    with pytest.raises(u.UnitMismatchError) as err:
        Equations("dv/dt = (I - v)/tau : volt\nI : amp", tau=10 * u.ms)
    msg = str(err.value)
    assert "dv/dt = (I - v)/tau" in msg and "line 1" in msg
    assert "`I - v`" in msg and "`I` is in A" in msg and "`v` is in V" in msg
    with pytest.raises(u.UnitMismatchError, match=r"dv/dt must be in V/s"):
        Equations("dv/dt = -v : volt")
    with pytest.raises(u.UnitMismatchError, match="compares `v`"):
        nd.dyn.NeuronGroup(1, "dv/dt = -v/(10*ms) : volt", threshold="v > 0")
    with pytest.raises(u.UnitMismatchError, match="exp` takes a dimensionless argument"):
        Equations("dv/dt = exp(v)/(10*ms) : volt")


def test_unknown_and_misplaced_flags_list_the_allowed_ones():
    with pytest.raises(
        EquationError, match=r"\(unless refactory\).*allowed: \(unless refractory\)"
    ):
        Equations("dv/dt = -v/(10*ms) : volt (unless refactory)")
    with pytest.raises(EquationError, match=r"flag \(event-driven\).*NeuronGroup.*\(unless "):
        nd.dyn.NeuronGroup(1, "dv/dt = -v/(10*ms) : volt (event-driven)")
    with pytest.raises(EquationError, match=r"subexpression; allowed: \(shared\)"):
        Equations("I = 2*g : siemens (unless refractory)\ng : siemens")


@pytest.mark.parametrize(
    "text, match",
    [
        ("t : second", "reserved name"),
        ("dxi/dt = -xi/(1*ms) : 1", "reserved name"),
        ("xi_1 : 1", "reserved name"),
        ("lambda : 1", "Python keyword"),
        ("_x : 1", "underscore"),
        ("mV : volt", "name of a unit"),
        ("exp : 1", "function or constant"),
        ("not_refractory : boolean", "refractory mechanism"),
        ("x : 1\nx : volt", "defined twice"),
        ("v : volts", "the unit `volts` could not be read"),
        ("b : bool", "`: boolean`"),
        ("dv/dt = -v/tau", "has no `: unit`"),
    ],
)
def test_bad_names_and_lines_are_refused(text, match):
    with pytest.raises(EquationError, match=match):
        Equations(text)


def test_a_subexpression_cycle_is_named():
    with pytest.raises(EquationError, match="cycle: a -> b -> c -> a"):
        Equations("a = b : 1\nb = c : 1\nc = a + 1 : 1")


def test_syntax_errors_point_at_the_column():
    with pytest.raises(EquationError) as err:
        Equations("dv/dt = (1 - v))/tau : 1")
    lines = str(err.value).splitlines()
    assert lines[-2].strip() == "(1 - v))/tau"
    assert lines[-1].index("^") - lines[-2].index("(") == 7  # under the extra ')'
    with pytest.raises(EquationError, match=r"\^` \(exclusive or\); write powers with `\*\*`"):
        parse_expression("v^2")
    with pytest.raises(EquationError, match="not allowed in expressions"):
        parse_expression("x if y else z")
    with pytest.raises(EquationError, match="unknown function `eval`"):
        parse_expression("eval(x)")
    with pytest.raises(EquationError, match="attribute access"):
        parse_expression("os.system")
    with pytest.raises(EquationError, match="random numbers"):
        Equations("dv/dt = rand()/(1*ms) : 1")


def test_an_undefined_name_is_refused_by_the_group():
    with pytest.raises(EquationError, match="`tau_x` is not defined"):
        nd.dyn.NeuronGroup(1, "dv/dt = -v/tau_x : volt", namespace={})


def test_statements_of_resets_and_pathways():
    stmts = parse_statements("v = Vr; w += b  # comment\nx *= 2")
    assert [(s.var, s.op, s.expr.code) for s in stmts] == [
        ("v", "=", "Vr"),
        ("w", "+=", "b"),
        ("x", "*=", "2"),
    ]
    with pytest.raises(EquationError, match="not a statement"):
        parse_statements("v == 3")
    with pytest.raises(EquationError, match="the target must be a variable name"):
        parse_statements("a.b = 3")


def test_compiled_expressions_fold_constants_and_follow_brian2_semantics():
    env_names = {"v": ("var", "v"), "x": ("var", "x")}

    def resolve(name):
        if name in env_names:
            return env_names[name]
        unit = nd.dyn._equations.brian_unit(name)
        if unit is not None:
            return Const(float(unit.scale))
        return Const({"pi": math.pi}[name])

    comp = Compiler(resolve)
    folded = comp.compile(parse_expression("2*pi*(20*mV)/(5*ms)"))
    assert isinstance(folded, Const) and folded.value == pytest.approx(2 * math.pi * 4.0)
    f = comp.function(parse_expression("clip(v, 0, 1) + (x > 1 and x < 3) + exprel(v - v) + -x**2"))
    v, x = jnp.array([-1.0, 0.5, 2.0]), jnp.array([0.0, 2.0, 4.0])
    expected = np.clip(v, 0, 1) + ((x > 1) & (x < 3)) + 1.0 - x**2
    np.testing.assert_allclose(f({"v": v, "x": x}), expected, rtol=1e-6)
    g = comp.function(parse_expression("int(x/3) + floor(x/3) + sign(v) + abs(v) + x % 3"))
    np.testing.assert_allclose(
        g({"v": v, "x": x}), np.trunc(x / 3) + np.floor(x / 3) + np.sign(v) + abs(v) + x % 3
    )
