"""Type stubs for the compiled extension `pilotdid._core` (src/python/).

Every function returns a frozen result class (below its function) or, where the value is one
array or one pair of scalars, that array or tuple. Options after the data are keyword-only.
Kept in step with the extension by tests/test_core_stub.py.
"""

import numpy as np
import numpy.typing as npt

_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]
_U32 = npt.NDArray[np.uint32]
_Bool = npt.NDArray[np.bool_]
#: (name, column) pairs
_Cols = list[tuple[str, _F64]]

class PilotdidError(ValueError):
    """Bad input or a failed estimate; the message names the column, value or option."""

# ------------------------------------------------------------------------------------------
# shared results
# ------------------------------------------------------------------------------------------
class WaldTest:
    """A Wald test of joint restrictions, in chi-squared and F form."""

    @property
    def event_time(self) -> list[int]:
        """Labels of the tested coefficients (event times; empty for restriction_wald)."""
    @property
    def chi2(self) -> float: ...
    @property
    def p_chi2(self) -> float: ...
    @property
    def f(self) -> float: ...
    @property
    def df1(self) -> int: ...
    @property
    def df2(self) -> int: ...
    @property
    def p_f(self) -> float: ...

class WildBootCore:
    """A restricted wild cluster bootstrap test of one linear restriction."""

    @property
    def estimate(self) -> float: ...
    @property
    def t_stat(self) -> float: ...
    @property
    def p_value(self) -> float: ...
    @property
    def conf_int(self) -> tuple[float, float] | None: ...
    @property
    def reps(self) -> int: ...
    @property
    def t_boot(self) -> _F64: ...
    @property
    def fe_partialled(self) -> list[str]: ...
    @property
    def fe_as_dummies(self) -> list[str]: ...
    @property
    def fe_exact(self) -> bool: ...

# ------------------------------------------------------------------------------------------
# ids, panels, fixed-effects OLS (mod.rs)
# ------------------------------------------------------------------------------------------
class FactorizedIds:
    @property
    def codes(self) -> _U32:
        """Dense code per row, in order of first appearance."""
    @property
    def levels(self) -> _I64:
        """The distinct ids, in that order."""

def factorize_ids(ids: _I64) -> FactorizedIds: ...

class PanelInfo:
    @property
    def is_balanced(self) -> bool: ...
    @property
    def n_units(self) -> int: ...
    @property
    def n_periods(self) -> int: ...
    @property
    def periods(self) -> list[int]: ...
    @property
    def cohort(self) -> list[int | None]:
        """First treated period per unit (None: never treated)."""

def panel_info(
    unit: _U32,
    unit_labels: list[str],
    time: _I64,
    *,
    treatment: _F64 | None = None,
    cohort: _F64 | None = None,
    allow_switch_off: bool = False,
) -> PanelInfo: ...

class FeolsCoefTable:
    """Student-t statistics of a fit's coefficients, one list entry per coefficient."""

    @property
    def statistic(self) -> list[float]: ...
    @property
    def p_value(self) -> list[float]: ...
    @property
    def conf_low(self) -> list[float]: ...
    @property
    def conf_high(self) -> list[float]: ...

class FeolsCore:
    """A fitted fixed-effects OLS regression."""

    @property
    def coefnames(self) -> list[str]: ...
    @property
    def beta(self) -> _F64: ...
    @property
    def vcov(self) -> _F64: ...
    @property
    def se(self) -> _F64: ...
    @property
    def used_rows(self) -> _Bool: ...
    @property
    def lean(self) -> bool: ...
    @property
    def collinear(self) -> list[str]: ...
    @property
    def nobs(self) -> int: ...
    @property
    def n_missing(self) -> int: ...
    @property
    def n_zero_weight(self) -> int: ...
    @property
    def n_singletons(self) -> int: ...
    @property
    def singletons_dropped(self) -> bool: ...
    @property
    def r2(self) -> float: ...
    @property
    def r2_within(self) -> float | None: ...
    @property
    def rss(self) -> float: ...
    def residuals(self) -> _F64: ...
    @property
    def df_k(self) -> int: ...
    @property
    def df_t(self) -> int: ...
    @property
    def n_clusters(self) -> list[int]: ...
    @property
    def fe_levels(self) -> list[int]: ...
    @property
    def demean_method(self) -> str: ...
    @property
    def demean_iterations(self) -> list[int]: ...
    @property
    def demean_seconds(self) -> float: ...
    @property
    def phases(self) -> list[tuple[str, float]]: ...
    def coef_table(self, level: float) -> FeolsCoefTable: ...
    def wildboottest(
        self,
        y: _F64,
        x: list[_F64],
        restriction: _F64,
        r: float,
        *,
        reps: int,
        weights: str,
        seed: int,
        level: float,
        cluster: int = 0,
    ) -> WildBootCore: ...

def feols_fit(
    y_name: str,
    y: _F64,
    x_names: list[str],
    x: list[_F64],
    *,
    fe_names: list[str],
    fe: list[_I64],
    cluster_names: list[str],
    clusters: list[_I64],
    weights_name: str | None = None,
    weights: _F64 | None = None,
    valid: _Bool | None = None,
    vcov: str,
    vcov_clusters: list[int],
    drop_singletons: bool,
    tol: float,
    max_iter: int,
    lean_min_rows: int = ...,
) -> FeolsCore: ...
def feols_conley_fit(
    y_name: str,
    y: _F64,
    x_names: list[str],
    x: list[_F64],
    *,
    fe_names: list[str],
    fe: list[_I64],
    weights_name: str | None = None,
    weights: _F64 | None = None,
    valid: _Bool | None = None,
    lat: _F64,
    lon: _F64,
    unit: _I64 | None = None,
    time: _I64 | None = None,
    cutoff_km: float,
    lag: int,
    kernel: str,
    drop_singletons: bool,
    tol: float,
    max_iter: int,
) -> FeolsCore: ...

# ------------------------------------------------------------------------------------------
# Callaway & Sant'Anna (staggered.rs)
# ------------------------------------------------------------------------------------------
class AttGtCells:
    """One list entry per (g, t) cell."""

    @property
    def group(self) -> list[int]: ...
    @property
    def t(self) -> list[int]: ...
    @property
    def base_t(self) -> list[int]: ...
    @property
    def post(self) -> list[bool]: ...
    @property
    def att(self) -> list[float]: ...
    @property
    def se(self) -> list[float]: ...
    @property
    def n_treated(self) -> list[int]: ...
    @property
    def n_control(self) -> list[int]: ...
    @property
    def status(self) -> list[str]:
        """ "estimated", "reference" or "skipped"."""
    @property
    def reason(self) -> list[str]: ...

class AttGtPretest:
    @property
    def w(self) -> float: ...
    @property
    def p_value(self) -> float: ...
    @property
    def df(self) -> int: ...

class AggteCore:
    @property
    def egt(self) -> list[int]: ...
    @property
    def att(self) -> list[float]: ...
    @property
    def se(self) -> list[float]: ...
    @property
    def overall_att(self) -> float: ...
    @property
    def overall_se(self) -> float: ...
    @property
    def crit_val(self) -> float: ...
    @property
    def notes(self) -> list[str]: ...
    @property
    def vcov(self) -> _F64: ...

class AttGtCore:
    @property
    def cells(self) -> AttGtCells: ...
    @property
    def n_units(self) -> int: ...
    @property
    def crit_val(self) -> float: ...
    @property
    def pretest(self) -> AttGtPretest | None: ...
    @property
    def pretest_note(self) -> str | None: ...
    @property
    def groups(self) -> list[int]: ...
    @property
    def periods(self) -> list[int]: ...
    @property
    def n_rows_dropped(self) -> int: ...
    @property
    def n_units_already_treated(self) -> int: ...
    @property
    def notes(self) -> list[str]: ...
    @property
    def bootstrap(self) -> bool: ...
    @property
    def n_boot_units(self) -> int | None: ...
    @property
    def influence(self) -> _F64:
        """n_units x cells."""
    def aggte(
        self,
        kind: str,
        *,
        min_e: float,
        max_e: float,
        balance_e: int | None = None,
        alpha: float,
        bstrap: bool,
        biters: int,
        cband: bool,
        seed: int,
        weight_type: str = "mammen",
        cohort_shares: str = "estimated",
    ) -> AggteCore: ...

def att_gt_fit(
    y: _F64,
    time: _I64,
    unit: _U32,
    cohort: _F64,
    *,
    cov_names: list[str],
    covs: list[_F64],
    weights: _F64 | None = None,
    cluster: _U32 | None = None,
    names: list[str],
    control_group: str,
    anticipation: int,
    base_period: str,
    est_method: str,
    alpha: float,
    bstrap: bool,
    biters: int,
    cband: bool,
    seed: int,
    weight_type: str = "mammen",
) -> AttGtCore: ...
def exposure_att_gt_fit(
    periods: _I64,
    y: _F64,
    group: _I64,
    cohort: _I64,
    exposure: _I64,
    *,
    cluster: _U32 | None = None,
    control_group: str,
    label: str,
    z_crit: float,
    bstrap: bool,
    biters: int,
    cband: bool,
    seed: int,
    alpha: float,
    weight_type: str = "mammen",
) -> AttGtCore: ...

# ------------------------------------------------------------------------------------------
# Goodman-Bacon, Sun-Abraham (bacon_sunab.rs)
# ------------------------------------------------------------------------------------------
class BaconCore:
    """One list entry per 2x2 comparison; summary_* per comparison type."""

    @property
    def kind(self) -> list[str]: ...
    @property
    def treated(self) -> list[int]: ...
    @property
    def control(self) -> list[int | None]: ...
    @property
    def estimate(self) -> _F64: ...
    @property
    def weight(self) -> _F64: ...
    @property
    def n_treated_units(self) -> list[int]: ...
    @property
    def n_control_units(self) -> list[int]: ...
    @property
    def window_start(self) -> list[int]: ...
    @property
    def window_end(self) -> list[int]: ...
    @property
    def summary_kind(self) -> list[str]: ...
    @property
    def summary_weight(self) -> list[float]: ...
    @property
    def summary_avg_estimate(self) -> list[float]: ...
    @property
    def summary_n(self) -> list[int]: ...
    @property
    def twfe(self) -> float: ...
    @property
    def variance_d(self) -> float: ...
    @property
    def unscaled_weight_sum(self) -> float: ...
    @property
    def n_units(self) -> int: ...
    @property
    def n_periods(self) -> int: ...
    @property
    def n_never_treated(self) -> int: ...
    @property
    def n_always_treated(self) -> int: ...
    @property
    def cohorts(self) -> list[tuple[int, int]]: ...

def bacon_fit(
    unit: _U32,
    unit_labels: list[str],
    time: _I64,
    y: _F64,
    treat: _F64,
    *,
    y_name: str,
    treat_name: str,
    unit_name: str,
    time_name: str,
) -> BaconCore: ...

class SunAbrahamTable:
    @property
    def estimate(self) -> _F64: ...
    @property
    def std_error(self) -> _F64: ...
    @property
    def statistic(self) -> _F64: ...
    @property
    def p_value(self) -> _F64: ...
    @property
    def conf_low(self) -> _F64: ...
    @property
    def conf_high(self) -> _F64: ...

class SunAbrahamCore:
    @property
    def cell_cohort(self) -> list[int]: ...
    @property
    def cell_rel(self) -> list[int]: ...
    @property
    def cell_count(self) -> _F64: ...
    @property
    def cells(self) -> SunAbrahamTable: ...
    @property
    def cell_vcov(self) -> _F64: ...
    @property
    def event_time(self) -> list[int]: ...
    @property
    def event(self) -> SunAbrahamTable: ...
    @property
    def event_vcov(self) -> _F64: ...
    @property
    def weights(self) -> _F64:
        """Aggregation weights: row = event time, column = cell."""
    @property
    def att(self) -> float: ...
    @property
    def att_se(self) -> float: ...
    @property
    def control_names(self) -> list[str]: ...
    @property
    def control_beta(self) -> list[float]: ...
    @property
    def control_se(self) -> list[float]: ...
    @property
    def collinear(self) -> list[str]: ...
    @property
    def nobs(self) -> int: ...
    @property
    def n_missing(self) -> int: ...
    @property
    def n_always_treated_rows(self) -> int: ...
    @property
    def n_after_control_treated_rows(self) -> int: ...
    @property
    def control_cohort(self) -> int | None: ...
    @property
    def df_t(self) -> int: ...
    @property
    def n_clusters(self) -> list[int]: ...
    @property
    def coefnames(self) -> list[str]: ...
    @property
    def vcov(self) -> _F64: ...
    @property
    def att_weights(self) -> _F64: ...
    def wild_bootstrap(
        self,
        event_weights: list[float] | None,
        r: float,
        *,
        reps: int,
        weights: str,
        seed: int,
        level: float,
    ) -> WildBootCore: ...

def sunab_fit(
    unit: _U32,
    unit_labels: list[str],
    time: _I64,
    cohort: _F64,
    y_name: str,
    y: _F64,
    *,
    gname: str,
    tname: str,
    control_names: list[str],
    controls: list[_F64],
    cluster_names: list[str],
    clusters: list[_I64],
    vcov: str,
    vcov_clusters: list[int],
    control: str,
    ref_periods: list[int],
    bin: tuple[int, int] | None = None,
    level: float,
    tol: float,
    max_iter: int,
) -> SunAbrahamCore: ...

# ------------------------------------------------------------------------------------------
# event studies (event.rs)
# ------------------------------------------------------------------------------------------
class TwfeEventStudyInfo:
    @property
    def conf_low(self) -> list[float]: ...
    @property
    def conf_high(self) -> list[float]: ...
    @property
    def event_time(self) -> _I64: ...
    @property
    def estimate(self) -> _F64: ...
    @property
    def std_error(self) -> _F64: ...
    @property
    def vcov(self) -> _F64: ...
    @property
    def collinear_event_time(self) -> list[int]: ...
    @property
    def ref_periods(self) -> list[int]: ...
    @property
    def n_outside_window(self) -> int: ...
    @property
    def n_obs_event_time(self) -> list[int]: ...
    @property
    def pretrend(self) -> WaldTest | None: ...
    @property
    def coefnames(self) -> list[str]: ...
    @property
    def beta(self) -> _F64: ...
    @property
    def se_all(self) -> _F64: ...
    @property
    def collinear(self) -> list[str]: ...
    @property
    def nobs(self) -> int: ...
    @property
    def n_missing(self) -> int: ...
    @property
    def df_t(self) -> int: ...
    @property
    def n_clusters(self) -> list[int]: ...
    @property
    def r2(self) -> float: ...

class TwfeEventStudyCore:
    def info(self, level: float) -> TwfeEventStudyInfo: ...
    def wild_bootstrap(
        self, e: int, r: float, *, reps: int, weights: str, seed: int, level: float
    ) -> WildBootCore: ...

def twfe_event_study_fit(
    y_name: str,
    y: _F64,
    unit: _I64,
    time: _I64,
    cohort: _F64,
    *,
    control_names: list[str],
    controls: list[_F64],
    cluster_name: str | None = None,
    cluster: _I64 | None = None,
    valid: _Bool | None = None,
    vcov: str,
    ref_periods: list[int],
    bin_lo: int | None = None,
    bin_hi: int | None = None,
    window: tuple[int, int] | None = None,
    tol: float,
    max_iter: int,
    conley: tuple[_F64, _F64, float, int, str] | None = None,
) -> TwfeEventStudyCore: ...

class ImputationCore:
    @property
    def conf_low(self) -> list[float]: ...
    @property
    def conf_high(self) -> list[float]: ...
    @property
    def ci_df(self) -> int | None: ...
    @property
    def att(self) -> float: ...
    @property
    def att_se(self) -> float: ...
    @property
    def att_conf(self) -> tuple[float, float]: ...
    @property
    def event_time(self) -> _I64: ...
    @property
    def estimate(self) -> _F64: ...
    @property
    def std_error(self) -> _F64: ...
    @property
    def vcov(self) -> _F64: ...
    @property
    def n_obs_event_time(self) -> list[int]: ...
    @property
    def pretrend_event_time(self) -> list[int]: ...
    @property
    def pretrend_estimate(self) -> list[float]: ...
    @property
    def pretrend_std_error(self) -> list[float]: ...
    @property
    def pretrend_conf_low(self) -> list[float]: ...
    @property
    def pretrend_conf_high(self) -> list[float]: ...
    @property
    def pretrend(self) -> WaldTest | None: ...
    @property
    def tau(self) -> _F64: ...
    @property
    def n_treated(self) -> int: ...
    @property
    def n_untreated(self) -> int: ...
    @property
    def n_missing(self) -> int: ...
    @property
    def n_not_imputable(self) -> int: ...
    @property
    def n_clusters(self) -> int: ...
    @property
    def collinear(self) -> list[str]: ...
    @property
    def leave_out_fallback(self) -> list[tuple[int, int]]: ...
    @property
    def cluster_scores(self) -> _F64: ...
    @property
    def joint_vcov(self) -> _F64 | None: ...
    def multiplier_bootstrap(
        self, *, reps: int, weight_type: str, seed: int, level: float
    ) -> tuple[float, float, list[float], list[float], float]: ...

def imputation_fit(
    y_name: str,
    y: _F64,
    unit: _I64,
    time: _I64,
    cohort: _F64,
    *,
    control_names: list[str],
    controls: list[_F64],
    cluster_name: str | None = None,
    cluster: _I64 | None = None,
    valid: _Bool | None = None,
    horizons: list[int] | None = None,
    pretrends: list[int] | None = None,
    anticipation: int,
    level: float,
    leave_out: bool = False,
    small_sample: bool = False,
) -> ImputationCore: ...

class Did2sCore:
    @property
    def conf_low(self) -> list[float]: ...
    @property
    def conf_high(self) -> list[float]: ...
    @property
    def terms(self) -> list[str]: ...
    @property
    def event_time(self) -> _I64: ...
    @property
    def estimate(self) -> _F64: ...
    @property
    def std_error(self) -> _F64: ...
    @property
    def vcov(self) -> _F64: ...
    @property
    def n_obs_event_time(self) -> list[int]: ...
    @property
    def nobs(self) -> int: ...
    @property
    def n_untreated(self) -> int: ...
    @property
    def n_missing(self) -> int: ...
    @property
    def n_not_imputable(self) -> int: ...
    @property
    def n_outside_window(self) -> int: ...
    @property
    def n_clusters(self) -> int: ...
    @property
    def collinear(self) -> list[str]: ...
    @property
    def ref_periods(self) -> list[int]: ...
    @property
    def cluster_ids(self) -> list[int]: ...
    def wild_bootstrap(
        self,
        event_weights: list[float],
        r: float,
        *,
        reps: int,
        weights: str,
        seed: int,
        level: float,
    ) -> WildBootCore: ...
    def wild_bootstrap_draws(
        self, event_weights: list[float], r: float, draws: _F64
    ) -> tuple[_F64, _F64]: ...

def did2s_fit(
    y_name: str,
    y: _F64,
    unit: _I64,
    time: _I64,
    cohort: _F64,
    *,
    control_names: list[str],
    controls: list[_F64],
    cluster_name: str | None = None,
    cluster: _I64 | None = None,
    valid: _Bool | None = None,
    event: bool,
    ref_periods: list[int],
    bin_lo: int | None = None,
    bin_hi: int | None = None,
    window: tuple[int, int] | None = None,
    anticipation: int,
    level: float,
    conley: tuple[_F64, _F64, float, int, str] | None = None,
) -> Did2sCore: ...

# ------------------------------------------------------------------------------------------
# robustness: placebo, logit, matching (robust.rs)
# ------------------------------------------------------------------------------------------
class PlaceboEnumeration:
    @property
    def estimates(self) -> _F64: ...
    @property
    def assignments(self) -> list[list[int | None]]: ...

class PlaceboCore:
    @property
    def actual(self) -> float: ...
    @property
    def collinear(self) -> list[str]: ...
    @property
    def cohorts(self) -> list[int | None]: ...
    def n_distinct(self, scheme_name: str) -> int | None: ...
    def assignment(self, scheme_name: str, seed: int, r: int) -> list[int | None]: ...
    def run(self, scheme_name: str, seed: int, start: int, count: int) -> _F64: ...
    def enumerate(self, scheme_name: str, cap: int) -> PlaceboEnumeration: ...
    def estimate(self, cohorts: list[int | None]) -> float: ...

def placebo_prepare(
    y: _F64,
    unit: _I64,
    time: _I64,
    treat_name: str,
    treat: _F64,
    *,
    control_names: list[str],
    controls: list[_F64],
    fe_names: list[str],
    fe: list[_I64],
    weights: _F64 | None = None,
    tol: float,
    max_iter: int,
) -> PlaceboCore: ...
def placebo_pvalue(estimates: _F64, actual: float, *, enumerated: bool) -> tuple[float, int]:
    """(p-value, finite replicates R): (1 + k) / (1 + R), k = #{|placebo| >= |actual|};
    k / R when enumerated (every assignment, the actual one among them)."""

class LogitCore:
    @property
    def beta(self) -> _F64: ...
    @property
    def se(self) -> _F64: ...
    @property
    def vcov(self) -> _F64: ...
    @property
    def loglik(self) -> float: ...
    @property
    def iterations(self) -> int: ...
    @property
    def fitted(self) -> _F64: ...

def logit_fit(
    y: _F64, names: list[str], x: list[_F64], *, tol: float = 1e-10, max_iter: int = 100
) -> LogitCore: ...

class MatchingCore:
    @property
    def weights(self) -> _F64: ...
    @property
    def off_support(self) -> list[int]: ...
    @property
    def unmatched(self) -> list[int]: ...
    @property
    def pairs(self) -> list[tuple[int, int]]: ...

def psm_match(
    ps: _F64,
    treat: _F64,
    group: _I64 | None = None,
    *,
    method: str,
    k: int,
    replace: bool,
    caliper: float | None = None,
    kernel: str,
    bandwidth: float,
    common_support: bool,
) -> MatchingCore: ...

class BalanceTable:
    """One list entry per covariate."""

    @property
    def mean_treated_before(self) -> list[float]: ...
    @property
    def mean_control_before(self) -> list[float]: ...
    @property
    def mean_treated_after(self) -> list[float]: ...
    @property
    def mean_control_after(self) -> list[float]: ...
    @property
    def bias_before(self) -> list[float]: ...
    @property
    def bias_after(self) -> list[float]: ...
    @property
    def bias_reduction(self) -> list[float]: ...
    @property
    def t_before(self) -> list[float]: ...
    @property
    def p_before(self) -> list[float]: ...
    @property
    def t_after(self) -> list[float]: ...
    @property
    def p_after(self) -> list[float]: ...

def psm_balance(
    names: list[str], covariates: list[_F64], treat: _F64, weights: _F64
) -> BalanceTable: ...

# ------------------------------------------------------------------------------------------
# spatial weights (weights.rs)
# ------------------------------------------------------------------------------------------
class SparseWeights:
    """An N x N spatial weights matrix in CSR form."""

    def __new__(cls, n: int, indptr: _I64, indices: _I64, data: _F64) -> SparseWeights: ...
    @property
    def n(self) -> int: ...
    @property
    def indptr(self) -> _I64: ...
    @property
    def indices(self) -> _I64: ...
    @property
    def data(self) -> _F64: ...

class Eigenvalues:
    @property
    def re(self) -> _F64: ...
    @property
    def im(self) -> _F64: ...

def sp_from_triplets(n: int, rows: _I64, cols: _I64, values: _F64) -> SparseWeights: ...
def sp_from_coords(
    lat: _F64,
    lon: _F64,
    kind: str,
    *,
    power: float = 1.0,
    cutoff: float | None = None,
    k: int = 4,
    threshold: float = 0.0,
    radius_km: float = 6371.0088,
) -> SparseWeights: ...
def sp_contiguity(
    x: _F64, y: _F64, ring_ptr: _I64, unit_ptr: _I64, kind: str, *, tolerance: float = 0.0
) -> SparseWeights: ...
def sp_economic(z: _F64) -> SparseWeights: ...
def sp_nested(w: SparseWeights, z: _F64) -> SparseWeights: ...
def sp_transform(w: SparseWeights, *, how: str, allow_islands: bool = False) -> SparseWeights: ...
def sp_eigenvalues(w: SparseWeights) -> Eigenvalues: ...
def sp_extreme_eigenvalues(
    w: SparseWeights, *, tol: float = 1e-10, max_steps: int = 3000, seed: int = 0
) -> tuple[float, float]: ...
def sp_logdet(
    w: SparseWeights,
    rhos: _F64,
    *,
    method: str,
    order: int = 50,
    draws: int = 30,
    seed: int = 0,
) -> _F64: ...

# ------------------------------------------------------------------------------------------
# spatial models and diagnostics (spatial.rs)
# ------------------------------------------------------------------------------------------
class ChiSquaredTest:
    @property
    def statistic(self) -> float: ...
    @property
    def df(self) -> int: ...
    @property
    def p_value(self) -> float: ...

class SpatialIntervalCore:
    """Likelihood-ratio interval of one spatial parameter (rho or lambda)."""

    @property
    def name(self) -> str: ...
    @property
    def estimate(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def level(self) -> float: ...
    @property
    def reaches_low(self) -> bool: ...
    @property
    def reaches_high(self) -> bool: ...
    @property
    def bounds(self) -> tuple[float, float]: ...
    @property
    def lr_zero(self) -> float: ...
    @property
    def capped_range(self) -> float: ...
    @property
    def weakly_identified(self) -> bool: ...
    @property
    def weak_width_share(self) -> float: ...

class SpatialImpactsCore:
    """Point effects per regressor; inference lists hold rows [direct, indirect, total]."""

    @property
    def names(self) -> list[str]: ...
    @property
    def direct(self) -> list[float]: ...
    @property
    def indirect(self) -> list[float]: ...
    @property
    def total(self) -> list[float]: ...
    @property
    def delta_se(self) -> list[list[float]]: ...
    @property
    def sim_mean(self) -> list[list[float]]: ...
    @property
    def sim_sd(self) -> list[list[float]]: ...
    @property
    def sim_lo(self) -> list[list[float]]: ...
    @property
    def sim_hi(self) -> list[list[float]]: ...
    @property
    def draws(self) -> int: ...
    @property
    def rejected(self) -> int: ...

class UnitImpactsCore:
    """One list per regressor, one entry per unit."""

    @property
    def names(self) -> list[str]: ...
    @property
    def direct(self) -> list[list[float]]: ...
    @property
    def indirect(self) -> list[list[float]]: ...
    @property
    def total(self) -> list[list[float]]: ...

class SpatialCore:
    @property
    def names(self) -> list[str]: ...
    @property
    def coef(self) -> _F64: ...
    @property
    def se(self) -> _F64: ...
    @property
    def vcov(self) -> _F64: ...
    @property
    def residuals(self) -> _F64: ...
    @property
    def loglik(self) -> float: ...
    @property
    def n_units(self) -> int: ...
    @property
    def n_periods(self) -> int: ...
    @property
    def k_x(self) -> int: ...
    @property
    def durbin(self) -> list[int]: ...
    @property
    def rho_bounds(self) -> tuple[float, float]: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def w_row_standardised(self) -> bool: ...
    @property
    def method(self) -> str: ...
    @property
    def trace_se(self) -> float | None: ...
    @property
    def intervals(self) -> list[SpatialIntervalCore]: ...
    def impacts(self, *, draws: int = 1000, seed: int = 0) -> SpatialImpactsCore: ...
    def wald_theta(self) -> ChiSquaredTest: ...
    def lr_test(self, restricted: SpatialCore) -> ChiSquaredTest: ...
    def unit_impacts(self) -> UnitImpactsCore: ...

def sp_fit(
    y: _F64,
    x: list[_F64],
    names: list[str],
    unit: _U32,
    time: _U32,
    w: SparseWeights,
    *,
    kind: str,
    effects: str,
    lee_yu: bool,
    durbin: list[int] | None = None,
    fixed_rho: float | None = None,
    grid_incr: float | None = None,
    method: str = "auto",
    level: float = 0.95,
    w_periods: list[SparseWeights] | None = None,
    m: SparseWeights | None = None,
    fixed_lambda: float | None = None,
) -> SpatialCore: ...

class LmTestsCore:
    @property
    def lm_lag(self) -> float: ...
    @property
    def lm_error(self) -> float: ...
    @property
    def rlm_lag(self) -> float: ...
    @property
    def rlm_error(self) -> float: ...
    @property
    def p_lm_lag(self) -> float: ...
    @property
    def p_lm_error(self) -> float: ...
    @property
    def p_rlm_lag(self) -> float: ...
    @property
    def p_rlm_error(self) -> float: ...

def sp_lm_tests(
    y: _F64, x: list[_F64], unit: _U32, time: _U32, w: SparseWeights, *, effects: str
) -> LmTestsCore: ...

class MoranCore:
    @property
    def i(self) -> float: ...
    @property
    def ei(self) -> float: ...
    @property
    def vi_norm(self) -> float: ...
    @property
    def z_norm(self) -> float: ...
    @property
    def vi_rand(self) -> float: ...
    @property
    def z_rand(self) -> float: ...
    @property
    def p_sim(self) -> float: ...
    @property
    def ei_sim(self) -> float: ...
    @property
    def sd_sim(self) -> float: ...
    @property
    def permutations(self) -> int: ...

def sp_moran(y: _F64, w: SparseWeights, *, permutations: int = 999, seed: int = 0) -> MoranCore: ...

class LocalMoranCore:
    @property
    def local_i(self) -> _F64: ...
    @property
    def quadrant(self) -> list[int]:
        """1 HH, 2 LH, 3 LL, 4 HL."""
    @property
    def p_sim(self) -> _F64: ...

def sp_moran_local(
    y: _F64, w: SparseWeights, *, permutations: int = 999, seed: int = 0
) -> LocalMoranCore: ...

# ------------------------------------------------------------------------------------------
# mechanisms (mediation.rs)
# ------------------------------------------------------------------------------------------
class IndirectTests:
    @property
    def indirect(self) -> float: ...
    @property
    def sobel_se(self) -> float: ...
    @property
    def sobel_z(self) -> float: ...
    @property
    def sobel_p(self) -> float: ...
    @property
    def aroian_se(self) -> float: ...
    @property
    def aroian_z(self) -> float: ...
    @property
    def aroian_p(self) -> float: ...
    @property
    def goodman_defined(self) -> bool: ...
    @property
    def goodman_se(self) -> float: ...
    @property
    def goodman_z(self) -> float: ...
    @property
    def goodman_p(self) -> float: ...

def mediation_tests(a: float, se_a: float, b: float, se_b: float) -> IndirectTests: ...

class MediationBootstrap:
    @property
    def a(self) -> _F64:
        """reps x mediators (NaN in failed replicates)."""
    @property
    def b(self) -> _F64: ...
    @property
    def n_failed(self) -> int: ...

def mediation_bootstrap(
    y: _F64,
    d: _F64,
    mediators: _Cols,
    controls: _Cols,
    fe: list[tuple[str, _I64]],
    cluster: _I64,
    *,
    reps: int,
    seed: int,
    joint: bool,
    tol: float = 1e-11,
    max_iter: int = 10000,
    boot_range: tuple[int, int] | None = None,
) -> MediationBootstrap: ...
def mediation_boot_join(a: _F64, b: _F64) -> MediationBootstrap:
    """Chunks of bootstrap draws stacked in replicate order, as one MediationBootstrap."""

def mediation_ci(draws: _F64, estimate: float, level: float, method: str) -> tuple[float, float]:
    """(low, high) bootstrap interval: method "percentile" or "bc" (bias-corrected)."""

def linear_combinations(beta: _F64, vcov: _F64, l: _F64, df: int, level: float) -> _F64:
    """Rows (estimate, se, t, p, low, high) of L beta, delta-method se."""

def restriction_wald(beta: _F64, vcov: _F64, r: _F64, *, df2: int) -> WaldTest: ...

# ------------------------------------------------------------------------------------------
# green economy (green.rs)
# ------------------------------------------------------------------------------------------
class SbmCore:
    @property
    def score(self) -> _F64: ...
    @property
    def model(self) -> list[str]: ...
    @property
    def status(self) -> list[str]: ...
    @property
    def slacks(self) -> _F64:
        """rows x (inputs, good outputs, bad outputs)."""
    @property
    def n_infeasible(self) -> int: ...
    @property
    def iterations(self) -> int: ...
    @property
    def n_bland(self) -> int: ...

def green_sbm(
    inputs: _Cols,
    good: _Cols,
    bad: _Cols,
    row_labels: list[str],
    period: _I64,
    *,
    rts: str,
    frontier: str,
    super_efficiency: bool,
    bad_weight: float = 1.0,
) -> SbmCore: ...

class MalmquistCore:
    @property
    def eff_global(self) -> _F64: ...
    @property
    def eff_contemporaneous(self) -> _F64: ...
    @property
    def index(self) -> _F64: ...
    @property
    def ec(self) -> _F64: ...
    @property
    def tc(self) -> _F64: ...
    @property
    def cumulative(self) -> _F64: ...
    @property
    def status(self) -> list[str]: ...
    @property
    def n_infeasible(self) -> int: ...
    @property
    def n_programs(self) -> int: ...

def green_malmquist(
    inputs: _Cols,
    good: _Cols,
    bad: _Cols,
    row_labels: list[str],
    unit: _U32,
    time: _I64,
    *,
    kind: str,
    rts: str,
    super_efficiency: bool,
) -> MalmquistCore: ...

class CapitalStockCore:
    @property
    def capital(self) -> _F64: ...
    @property
    def growth(self) -> _F64: ...
    @property
    def real_investment(self) -> _F64: ...

def green_capital_stock(
    unit: _U32,
    unit_labels: list[str],
    time: _I64,
    investment: _F64,
    *,
    deflator: _F64 | None = None,
    delta: float,
    growth: float | None = None,
    growth_years: int | None = None,
    initial_stock: _F64 | None = None,
) -> CapitalStockCore: ...

class EntropyCore:
    @property
    def weights(self) -> _F64:
        """groups x indicators."""
    @property
    def entropy(self) -> _F64: ...
    @property
    def index(self) -> _F64: ...

def green_entropy(
    columns: _Cols, positive: list[bool], group: _U32, *, shift: float
) -> EntropyCore: ...

class LpSolution:
    @property
    def status(self) -> str: ...
    @property
    def objective(self) -> float: ...
    @property
    def x(self) -> _F64: ...

def green_lp_solve(a: _F64, b: _F64, c: _F64) -> LpSolution:
    """min c'z s.t. A z = b, z >= 0 with the crate's simplex."""

# ------------------------------------------------------------------------------------------
# inference policy (inference.rs)
# ------------------------------------------------------------------------------------------
class InferenceTable:
    """Statistic, two-sided p-value and interval per estimate (NaN rows: no finite positive
    standard error)."""

    @property
    def statistic(self) -> _F64: ...
    @property
    def p_value(self) -> _F64: ...
    @property
    def conf_low(self) -> _F64: ...
    @property
    def conf_high(self) -> _F64: ...

def inference_table(
    estimate: _F64, std_error: _F64, *, level: float, df: int | None = None
) -> InferenceTable:
    """Student's t with ``df`` degrees of freedom when given and positive, the normal
    otherwise."""

def inference_table_row_df(
    estimate: _F64, std_error: _F64, df: _F64, level: float
) -> InferenceTable:
    """``inference_table`` with one (fractional) degrees of freedom per row; inf or NaN rows
    are the normal's."""

def normal_critical(level: float) -> float:
    """The two-sided normal critical value at ``level`` (the quantile at 0.5 + level/2)."""

def normal_quantile(p: float) -> float:
    """The standard normal quantile at ``p`` in (0, 1) (as ``NormalDist().inv_cdf``)."""

def normal_pvalues(statistic: _F64) -> _F64:
    """Two-sided normal p-values erfc(|z| / sqrt 2) (NaN where the statistic is not finite)."""

# ------------------------------------------------------------------------------------------
# heterogeneity permutation test (heterogeneity.rs)
# ------------------------------------------------------------------------------------------
class HeterogeneityCore:
    @property
    def observed(self) -> float: ...
    @property
    def permuted(self) -> _F64:
        """The statistic per replicate (NaN: the replicate failed)."""
    @property
    def n_failed(self) -> int: ...
    @property
    def p_value(self) -> float: ...

def heterogeneity_permutation_test(
    y: _F64,
    x: list[_F64],
    fe: list[_I64],
    unit: _U32,
    unit_group: _U32,
    *,
    x_names: list[str],
    treatment: str,
    n_groups: int,
    reps: int,
    seed: int,
    fe_names: list[str] = ...,
    clusters: list[_I64] = ...,
    cluster_names: list[str] = ...,
    valid: _Bool | None = None,
    vcov: str = "iid",
    tol: float = 1e-11,
    max_iter: int = 10000,
) -> HeterogeneityCore: ...

# ------------------------------------------------------------------------------------------
# pre-trend power, Roth 2022 (pretrend_power.rs)
# ------------------------------------------------------------------------------------------
class PretrendPower:
    """The pre-test's power against a hypothesised delta and its consequences."""

    @property
    def pre(self) -> list[int]: ...
    @property
    def post(self) -> list[int]: ...
    @property
    def critical(self) -> float: ...
    @property
    def power(self) -> float: ...
    @property
    def power_std_error(self) -> float: ...
    @property
    def size(self) -> float: ...
    @property
    def bayes_factor(self) -> float: ...
    @property
    def likelihood_ratio(self) -> float: ...
    @property
    def wald_power(self) -> float: ...
    @property
    def wald_noncentrality(self) -> float: ...
    @property
    def expected_after_pretest(self) -> _F64: ...
    @property
    def coverage(self) -> _F64: ...
    @property
    def coverage_after_pretest(self) -> _F64: ...
    @property
    def slopes(self) -> list[tuple[str, float, float, str, float]]:
        """(test, target, slope, status, max_power) per test ('any_t', 'wald') and target."""

def pretrend_power_fit(
    event_time: _I64,
    estimate: _F64,
    vcov: _F64,
    delta: _F64,
    *,
    reference: int,
    level: float,
    targets: list[float],
) -> PretrendPower:
    """Roth (2022) pre-trend power of an event study."""

def mvn_rectangle_probability(
    mean: _F64, cov: _F64, lower: _F64, upper: _F64
) -> tuple[float, float]:
    """P(lower <= X <= upper), X ~ N(mean, cov), and its quasi-Monte Carlo standard error."""

def mvn_truncated_mean(mean: _F64, cov: _F64, lower: _F64, upper: _F64) -> tuple[_F64, float]:
    """Mean of N(mean, cov) truncated to [lower, upper] (Tallis) and the rectangle's probability."""

# HonestDiD (Rambachan & Roth 2023), src/python/honest.rs
def honest_relative(
    betahat: list[float],
    sigma: list[list[float]],
    n_pre: int,
    n_post: int,
    l_vec: list[float],
    m_bars: list[float],
    *,
    delta: str,
    shape: str,
    hybrid: bool,
    alpha: float,
    grid_points: int,
    sims: int,
    seed: int,
    breakdown_iters: int | None,
    grid_bounds: tuple[float, float] | None = None,
) -> tuple[list[float], list[float], float | None]: ...
def honest_flci(
    betahat: list[float],
    sigma: list[list[float]],
    n_pre: int,
    n_post: int,
    l_vec: list[float],
    ms: list[float],
    *,
    alpha: float,
    num_points: int,
    breakdown_iters: int | None,
) -> tuple[list[float], list[float], float | None]: ...
def honest_original(
    betahat: list[float],
    sigma: list[list[float]],
    n_pre: int,
    n_post: int,
    l_vec: list[float],
    *,
    alpha: float,
) -> tuple[float, float]: ...
def honest_lf_draws(seed: int, sims: int, dim: int) -> list[float]: ...

# ------------------------------------------------------------------------------------------
# principal-components index (pca.rs)
# ------------------------------------------------------------------------------------------
class PcaCore:
    @property
    def n_components(self) -> int: ...
    @property
    def kmo(self) -> float: ...
    @property
    def bartlett_chi2(self) -> float: ...
    @property
    def bartlett_df(self) -> int: ...
    @property
    def bartlett_p_value(self) -> float: ...
    @property
    def diagnostics_note(self) -> str | None: ...
    @property
    def means(self) -> _F64: ...
    @property
    def scales(self) -> _F64: ...
    @property
    def eigenvalues(self) -> _F64:
        """All components, descending."""
    @property
    def explained(self) -> _F64: ...
    @property
    def cumulative(self) -> _F64: ...
    @property
    def component_weights(self) -> _F64: ...
    @property
    def index(self) -> _F64: ...
    @property
    def kmo_per_variable(self) -> _F64: ...
    @property
    def eigenvectors(self) -> _F64:
        """indicators x components, signed (largest-|.| entry positive)."""
    @property
    def scores(self) -> _F64:
        """rows x kept components."""
    @property
    def correlation(self) -> _F64: ...

def green_pca(
    columns: _Cols,
    positive: list[bool],
    *,
    standardize: bool,
    n_components: int | None,
    select: str,
    share_threshold: float,
    component_weights: str,
) -> PcaCore: ...

# Synthetic DID (Arkhangelsky et al. 2021), src/python/synthdid.rs
class SynthDidCohort:
    adoption: int
    treated: list[int]
    estimate: float
    std_error: float
    weight: float
    omega: np.ndarray
    lambda_: np.ndarray
    beta: np.ndarray
    treated_path: np.ndarray
    synthetic_path: np.ndarray
    curve: np.ndarray
    noise_level: float
    zeta_omega: float
    zeta_lambda: float

class SynthDid:
    estimate: float
    std_error: float
    controls: list[int]
    cohorts: list[SynthDidCohort]
    event_time: list[int]
    event_estimate: np.ndarray
    event_std_error: np.ndarray
    replicates: np.ndarray

def synthdid_fit(
    y: np.ndarray,
    adoption: np.ndarray,
    covariates: list[np.ndarray],
    *,
    method: str,
    vcov: str,
    reps: int,
    seed: int,
    period_labels: list[int],
) -> SynthDid: ...

# Triple differences (ddd.rs)
# ------------------------------------------------------------------------------------------
class DddCells:
    group: list[int]
    t: list[int]
    base_t: list[int]
    post: list[bool]
    att: list[float]
    se: list[float]
    n_treated: list[int]
    n_control: list[int]
    status: list[str]
    reason: list[str]

class DddAggteCore:
    egt: list[int]
    att: list[float]
    se: list[float]
    overall_att: float
    overall_se: float
    crit_val: float
    notes: list[str]
    @property
    def vcov(self) -> _F64: ...

class DddCore:
    @property
    def cells(self) -> DddCells: ...
    @property
    def n_units(self) -> int: ...
    @property
    def crit_val(self) -> float: ...
    @property
    def pretest(self) -> None: ...
    @property
    def pretest_note(self) -> str | None: ...
    @property
    def groups(self) -> list[int]: ...
    @property
    def periods(self) -> list[int]: ...
    @property
    def n_rows_dropped(self) -> int: ...
    @property
    def n_units_already_treated(self) -> int: ...
    @property
    def n_units_unbalanced(self) -> int: ...
    @property
    def notes(self) -> list[str]: ...
    @property
    def bootstrap(self) -> bool: ...
    @property
    def n_boot_units(self) -> int | None: ...
    @property
    def two_period(self) -> bool: ...
    @property
    def components(self) -> list[float]:
        """Two periods: the DIDs of subgroup 4 against subgroups 3, 2 and 1."""
    @property
    def subgroup_counts(self) -> list[int]: ...
    @property
    def influence(self) -> _F64:
        """n_units x cells."""
    def aggte(
        self,
        kind: str,
        *,
        min_e: float,
        max_e: float,
        balance_e: int | None = None,
        alpha: float,
        bstrap: bool,
        biters: int,
        cband: bool,
        seed: int,
        weight_type: str = "mammen",
        cohort_shares: str = "estimated",
    ) -> DddAggteCore: ...

def ddd_fit(
    y: _F64,
    time: _I64,
    unit: _U32,
    cohort: _F64,
    partition: _F64,
    *,
    cov_names: list[str],
    covs: list[_F64],
    weights: _F64 | None = None,
    cluster: _U32 | None = None,
    names: list[str],
    control_group: str,
    base_period: str,
    est_method: str,
    alpha: float,
    bstrap: bool,
    biters: int,
    seed: int,
    weight_type: str = "mammen",
) -> DddCore: ...

# --- continuous-dose DID (src/python/dose.rs) ---------------------------------------------
class DoseSeries:
    @property
    def est(self) -> list[float]: ...
    @property
    def se(self) -> list[float]: ...
    @property
    def crit(self) -> float: ...
    @property
    def df(self) -> list[float]:
        """Degrees of freedom of the pointwise intervals (inf: normal)."""
    @property
    def influence(self) -> _F64: ...

class DoseEventStudyCore:
    @property
    def event(self) -> list[int]: ...
    @property
    def overall(self) -> float: ...
    @property
    def overall_se(self) -> float: ...
    @property
    def overall_df(self) -> float: ...
    @property
    def series(self) -> DoseSeries: ...
    @property
    def overall_influence(self) -> _F64: ...

class DoseCore:
    @property
    def dvals(self) -> list[float]: ...
    @property
    def knots(self) -> list[float]: ...
    @property
    def att_d(self) -> DoseSeries: ...
    @property
    def acrt_d(self) -> DoseSeries: ...
    @property
    def overall(self) -> tuple[float, float, float, float]: ...
    @property
    def overall_df(self) -> tuple[float, float]:
        """Degrees of freedom of the (ATT^o, ACRT^o) intervals (inf: normal)."""
    @property
    def overall_influence(self) -> _F64: ...
    @property
    def es_level(self) -> DoseEventStudyCore: ...
    @property
    def es_slope(self) -> DoseEventStudyCore | None: ...
    @property
    def cells(self) -> dict[str, list[object]]: ...
    @property
    def n_units(self) -> int: ...
    def event_study(
        self, kind: str, *, min_e: float, max_e: float, balance_e: int | None = None
    ) -> DoseEventStudyCore: ...
    @property
    def n_treated_units(self) -> int: ...
    @property
    def periods(self) -> list[int]: ...
    @property
    def n_units_already_treated(self) -> int: ...
    @property
    def n_units_unbalanced(self) -> int: ...
    @property
    def n_boot_units(self) -> int | None: ...
    @property
    def notes(self) -> list[str]: ...
    @property
    def saturated_cohorts(self) -> list[tuple[int, int, int]]:
        """(cohort, treated units, spline coefficients) without residual dof."""

def dose_fit(
    y: _F64,
    time: _I64,
    unit: _U32,
    cohort: _F64,
    dose: _F64,
    *,
    cluster: _U32 | None = None,
    names: list[str],
    control_group: str,
    base_period: str,
    anticipation: int,
    degree: int,
    num_knots: int,
    dvals: list[float] | None = None,
    alpha: float,
    bstrap: bool,
    biters: int,
    seed: int,
    weight_type: str = "mammen",
    small_sample: str = "none",
    df: str = "normal",
) -> DoseCore: ...

# --- de Chaisemartin-D'Haultfoeuille DID_l (src/python/dcdh.rs) -------------------------------
class DcdhHorizons:
    @property
    def estimate(self) -> list[float]: ...
    @property
    def se(self) -> list[float]: ...
    @property
    def n_switchers(self) -> list[int]: ...
    @property
    def n_obs(self) -> list[int]: ...
    @property
    def delta(self) -> list[float]: ...
    @property
    def vcov(self) -> _F64:
        """Horizons x horizons (0 x 0 when a horizon has no switcher)."""
    @property
    def influence(self) -> _F64:
        """n_groups x horizons with switchers."""

class DcdhCore:
    @property
    def effects(self) -> DcdhHorizons: ...
    @property
    def placebos(self) -> DcdhHorizons: ...
    @property
    def ate(self) -> tuple[float, float, int, int] | None:
        """(estimate, se, n_obs, n_switchers) of the average total effect."""
    @property
    def joint_effects(self) -> tuple[float, int, float] | None: ...
    @property
    def joint_placebos(self) -> tuple[float, int, float] | None: ...
    @property
    def equal_effects(self) -> tuple[float, int, float] | None: ...
    @property
    def n_groups(self) -> int: ...
    @property
    def n_switchers(self) -> int: ...
    @property
    def n_never_switchers(self) -> int: ...
    @property
    def n_clusters(self) -> int: ...
    @property
    def max_effects(self) -> int: ...
    @property
    def max_placebo(self) -> int: ...
    @property
    def periods(self) -> list[int]: ...
    @property
    def dropped(self) -> tuple[int, int, int, int]:
        """Rows dropped: (bidirectional, no_switch_variation, no_controls,
        trends_lin_second_period)."""
    @property
    def group_clusters(self) -> list[int] | None: ...
    @property
    def notes(self) -> list[str]: ...
    @property
    def boot(self) -> DcdhBoot | None:
        """The cluster bootstrap (reps > 0), or None."""

class DcdhBoot:
    @property
    def effects(self) -> _F64:
        """Draws x effects (NaN where a draw did not reach the effect or had none)."""
    @property
    def placebos(self) -> _F64:
        """Draws x placebos."""
    @property
    def ate(self) -> list[float]: ...
    @property
    def effects_se(self) -> list[float]: ...
    @property
    def placebos_se(self) -> list[float]: ...
    @property
    def ate_se(self) -> float | None: ...
    @property
    def reps(self) -> int: ...
    @property
    def n_failed(self) -> int:
        """Draws with no estimable effect (left out of the SEs)."""
    @property
    def n_clusters(self) -> int: ...
    @property
    def failed(self) -> list[bool]: ...

def dcdh_fit(
    y: _F64,
    time: _I64,
    unit: _U32,
    treatment: _F64,
    *,
    cov_names: list[str],
    covs: list[_F64],
    weights: _F64 | None = None,
    cluster: _U32 | None = None,
    trend_group: _U32 | None = None,
    names: list[str],
    effects: int,
    placebo: int,
    switchers: str,
    normalized: bool,
    only_never_switchers: bool,
    same_switchers: bool = False,
    same_switchers_pl: bool = False,
    trends_lin: bool = False,
    less_conservative_se: bool = False,
    reps: int = 0,
    seed: int = 0,
    boot_range: tuple[int, int] | None = None,
) -> DcdhCore: ...
def dcdh_boot_join(
    effects: npt.NDArray[np.float64],
    placebos: npt.NDArray[np.float64],
    ate: list[float],
    failed: list[bool],
    *,
    trends_lin: bool,
    n_clusters: int,
) -> DcdhBoot: ...

# Dynamic spatial panels (src/python/spatial_dynamic.rs; Yu, de Jong & Lee 2008, Lee & Yu 2010).
class DynamicImpactsCore:
    """Short- or long-run effects; inference lists hold rows [direct, indirect, total]."""

    @property
    def names(self) -> list[str]: ...
    @property
    def direct(self) -> list[float]: ...
    @property
    def indirect(self) -> list[float]: ...
    @property
    def total(self) -> list[float]: ...
    @property
    def delta_se(self) -> list[list[float]]: ...
    @property
    def sim_mean(self) -> list[list[float]]: ...
    @property
    def sim_sd(self) -> list[list[float]]: ...
    @property
    def sim_lo(self) -> list[list[float]]: ...
    @property
    def sim_hi(self) -> list[list[float]]: ...
    @property
    def draws(self) -> int: ...
    @property
    def rejected(self) -> int: ...

class DynamicSpatialCore:
    @property
    def names(self) -> list[str]: ...
    @property
    def coef(self) -> _F64: ...
    @property
    def se(self) -> _F64: ...
    @property
    def vcov(self) -> _F64: ...
    @property
    def vcov_asymptotic(self) -> _F64: ...
    @property
    def coef_qml(self) -> _F64: ...
    @property
    def se_qml(self) -> _F64: ...
    @property
    def vcov_qml(self) -> _F64: ...
    @property
    def residuals(self) -> _F64: ...
    @property
    def loglik(self) -> float: ...
    @property
    def n_units(self) -> int: ...
    @property
    def n_periods(self) -> int: ...
    @property
    def k_x(self) -> int: ...
    @property
    def durbin(self) -> list[int]: ...
    @property
    def rho_bounds(self) -> tuple[float, float]: ...
    @property
    def spectral_radius(self) -> float: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def method(self) -> str: ...
    @property
    def trace_se(self) -> float | None: ...
    @property
    def intervals(self) -> list[int]: ...
    def impacts(
        self, *, long_run: bool, draws: int = 1000, seed: int = 0
    ) -> DynamicImpactsCore: ...

def sp_dynamic_fit(
    y: _F64,
    x: list[_F64],
    names: list[str],
    unit: _U32,
    time: _U32,
    w: SparseWeights,
    *,
    model: str,
    dlag: int,
    effects: str,
    durbin: list[int] | None = None,
) -> DynamicSpatialCore: ...
def sp_dynamic_many(
    ys: list[_F64],
    x: list[_F64],
    unit: _U32,
    time: _U32,
    w: SparseWeights,
    *,
    model: str,
    dlag: int,
    effects: str,
) -> tuple[list[list[float]], list[list[float]], list[list[float]], list[list[float]]]: ...
