"""Analysis: spike-train statistics (rasters or spike times; rates, ISI, CV/CV2/LV, Fano,
correlations, synchrony, van Rossum / Victor-Purpura / STTC, spectra); phase planes
(nullclines, fixed points with stability); continuation of equilibria with fold, Hopf and
branch-point detection, of periodic orbits from a Hopf point (collocation, Floquet
multipliers, folds of limit cycles, period doubling, Neimark-Sacker) and of fold and Hopf
curves in two parameters (cusp, Bogdanov-Takens); fast-slow analysis; slow points of
high-dimensional systems; plots. Every entry point that takes a vector field ``f(x, p)`` also
takes a :mod:`neurodyn.dyn` model with ``param=`` the parameter to vary
(:func:`model_field`); :func:`critical_manifold` takes a model with its slow variable named
(``slow="z"``), and :func:`slow_points` a population or a Network of continuously coupled
populations (all their neurons: :class:`NetworkField`). Spike times may be given bare: a
1-D time Quantity is one train, a list of them several.

Example:
    >>> import jax.numpy as jnp
    >>> import neurodyn.units as u
    >>> from neurodyn import analysis
    >>> raster = jnp.zeros((1000, 2), bool).at[::100, 0].set(True)   # 10 Hz, regular
    >>> analysis.firing_rate(raster, dt=1 * u.ms)
    Quantity([10.,  0.], "Hz")
    >>> float(analysis.cv(raster, dt=1 * u.ms)[0])
    0.0
"""

from ._codim2 import Codim2Branch, continue_fold, continue_hopf
from ._continuation import EquilibriumBranch, SpecialPoint, continue_equilibria
from ._fastslow import FastSlowAnalysis, critical_manifold, fast_slow_diagram
from ._models import ModelField, NetworkField, model_field
from ._periodic import (
    PeriodicBranch,
    PeriodicSpecialPoint,
    continue_periodic_orbits,
    from_hopf,
)
from ._phase import (
    FixedPoint,
    PhasePlane,
    classify,
    find_fixed_points,
    fixed_points,
    nullclines,
    vector_field,
)
from ._plots import (
    bifurcation_diagram,
    isi_histogram,
    line,
    phase_portrait,
    population_rate_plot,
    raster,
    traces,
)
from ._slow import SlowPoint, slow_points
from ._spectra import coherence, power_spectrum
from ._spike_distances import (
    spike_time_tiling_coefficient,
    van_rossum_distance,
    victor_purpura_distance,
)
from ._spikes import (
    SpikeTrains,
    bin_counts,
    cross_correlogram,
    cv,
    cv2,
    cv_isi,
    fano_factor,
    firing_rate,
    instantaneous_rate,
    isi,
    isi_statistics,
    lv,
    population_rate,
    spike_count_correlation,
    spike_trains,
    synchrony,
    to_raster,
)

__all__ = [
    "ModelField",
    "NetworkField",
    "model_field",
    "SlowPoint",
    "slow_points",
    "EquilibriumBranch",
    "SpecialPoint",
    "continue_equilibria",
    "PeriodicBranch",
    "PeriodicSpecialPoint",
    "continue_periodic_orbits",
    "from_hopf",
    "Codim2Branch",
    "continue_fold",
    "continue_hopf",
    "FastSlowAnalysis",
    "critical_manifold",
    "fast_slow_diagram",
    "bifurcation_diagram",
    "FixedPoint",
    "PhasePlane",
    "classify",
    "fixed_points",
    "nullclines",
    "vector_field",
    "raster",
    "line",
    "firing_rate",
    "population_rate",
    "isi_statistics",
    "cv",
    "cv2",
    "lv",
    "fano_factor",
    "spike_count_correlation",
    "cross_correlogram",
    "synchrony",
    "van_rossum_distance",
    "bin_counts",
    "SpikeTrains",
    "spike_trains",
    "to_raster",
    "instantaneous_rate",
    "isi",
    "cv_isi",
    "victor_purpura_distance",
    "spike_time_tiling_coefficient",
    "power_spectrum",
    "coherence",
    "find_fixed_points",
    "traces",
    "population_rate_plot",
    "isi_histogram",
    "phase_portrait",
]
