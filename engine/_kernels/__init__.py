"""The engine's numba kernels, private to :mod:`sourcewise.engine`.

Every kernel takes arrays and scalars only; the public Python wrappers
(:class:`~sourcewise.engine.router.Router`, :mod:`~sourcewise.engine.scoring`,
:mod:`~sourcewise.engine.optimize`, :mod:`~sourcewise.engine.substitutes`)
validate their input and convert it. Each kernel has a slow, obviously
correct twin in ``tests/naive.py``.

The modules, each using only those above it:

``layout``      node-matrix columns, parameter positions, strategy codes, packed state
``geometry``    distances on the unit sphere, proximity scores, unit vectors
``cost``        the cost model: transit and lead days, parcel and unit costs
``gather``      candidate nodes and their ATP from the inventory's CSR entries
``search``      plan search: single node, exact 2- and 3-node splits, greedy, bounds
``drivers``     one order end to end, and a batch of orders
``plans``       the batch optimizer's plan generation and pricing
``scoring``     nearest-node scoring
``similarity``  substitute SKU similarity

The names the single-order router calls are re-exported here, so that
``from sourcewise.engine import _kernels as K`` reads ``K.route_one``.
"""

from __future__ import annotations

from sourcewise.engine._kernels.cost import depletion_cost
from sourcewise.engine._kernels.cost import late_cost
from sourcewise.engine._kernels.cost import lead_days
from sourcewise.engine._kernels.cost import parcel_cost
from sourcewise.engine._kernels.cost import parcel_costs
from sourcewise.engine._kernels.cost import plan_unit
from sourcewise.engine._kernels.cost import real_unit_costs
from sourcewise.engine._kernels.cost import transit_days
from sourcewise.engine._kernels.cost import unit_cost_at
from sourcewise.engine._kernels.cost import unit_costs
from sourcewise.engine._kernels.cost import unit_handling
from sourcewise.engine._kernels.cost import unit_shipping
from sourcewise.engine._kernels.cost import weight_cost
from sourcewise.engine._kernels.cost import with_miles
from sourcewise.engine._kernels.drivers import alloc_rows
from sourcewise.engine._kernels.drivers import append_row
from sourcewise.engine._kernels.drivers import reserve_alloc
from sourcewise.engine._kernels.drivers import reserve_rows
from sourcewise.engine._kernels.drivers import reserve_whole
from sourcewise.engine._kernels.drivers import route_batch
from sourcewise.engine._kernels.drivers import route_core
from sourcewise.engine._kernels.drivers import route_fast
from sourcewise.engine._kernels.drivers import route_one
from sourcewise.engine._kernels.drivers import rows_of
from sourcewise.engine._kernels.drivers import survive
from sourcewise.engine._kernels.drivers import tier_rows_bound
from sourcewise.engine._kernels.drivers import tier_step
from sourcewise.engine._kernels.drivers import used_rows
from sourcewise.engine._kernels.gather import atp_snapshot
from sourcewise.engine._kernels.gather import bit_index
from sourcewise.engine._kernels.gather import entry_atp
from sourcewise.engine._kernels.gather import entry_position
from sourcewise.engine._kernels.gather import fill_distances
from sourcewise.engine._kernels.gather import gather
from sourcewise.engine._kernels.gather import gather_core
from sourcewise.engine._kernels.gather import gather_priced
from sourcewise.engine._kernels.gather import lower_bound
from sourcewise.engine._kernels.gather import nearby_holders
from sourcewise.engine._kernels.gather import sku_bitsets
from sourcewise.engine._kernels.gather import sku_views
from sourcewise.engine._kernels.gather import snapshot_size
from sourcewise.engine._kernels.geometry import arc_miles
from sourcewise.engine._kernels.geometry import chord_miles
from sourcewise.engine._kernels.geometry import distance_miles
from sourcewise.engine._kernels.geometry import fast_asin
from sourcewise.engine._kernels.geometry import proximity_scores
from sourcewise.engine._kernels.geometry import unit_vector
from sourcewise.engine._kernels.layout import *  # noqa: F403 - the layout is its named constants
from sourcewise.engine._kernels.layout import __all__ as _layout_names
from sourcewise.engine._kernels.search import best_by_bits
from sourcewise.engine._kernels.search import best_one_sku
from sourcewise.engine._kernels.search import best_single_lazy
from sourcewise.engine._kernels.search import better
from sourcewise.engine._kernels.search import eval_set
from sourcewise.engine._kernels.search import extend_greedy
from sourcewise.engine._kernels.search import fill_bound2
from sourcewise.engine._kernels.search import fill_bound3
from sourcewise.engine._kernels.search import greedy
from sourcewise.engine._kernels.search import plan_cost
from sourcewise.engine._kernels.search import plan_given
from sourcewise.engine._kernels.search import smallest
from sourcewise.engine._kernels.search import split_bound
from sourcewise.engine._kernels.search import split_pool

__all__ = [
    *_layout_names,
    "alloc_rows",
    "append_row",
    "arc_miles",
    "atp_snapshot",
    "best_by_bits",
    "best_one_sku",
    "best_single_lazy",
    "better",
    "bit_index",
    "chord_miles",
    "depletion_cost",
    "distance_miles",
    "entry_atp",
    "entry_position",
    "eval_set",
    "extend_greedy",
    "fast_asin",
    "fill_bound2",
    "fill_bound3",
    "fill_distances",
    "gather",
    "gather_core",
    "gather_priced",
    "greedy",
    "late_cost",
    "lead_days",
    "lower_bound",
    "nearby_holders",
    "parcel_cost",
    "parcel_costs",
    "plan_cost",
    "plan_given",
    "plan_unit",
    "proximity_scores",
    "real_unit_costs",
    "reserve_alloc",
    "reserve_rows",
    "reserve_whole",
    "route_batch",
    "route_core",
    "route_fast",
    "route_one",
    "rows_of",
    "sku_bitsets",
    "sku_views",
    "smallest",
    "snapshot_size",
    "split_bound",
    "split_pool",
    "survive",
    "tier_rows_bound",
    "tier_step",
    "transit_days",
    "unit_cost_at",
    "unit_costs",
    "unit_handling",
    "unit_shipping",
    "unit_vector",
    "used_rows",
    "weight_cost",
    "with_miles",
]
