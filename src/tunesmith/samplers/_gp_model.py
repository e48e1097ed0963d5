"""A small Gaussian-process regression model for `GP`: Matérn-5/2 ARD kernel, numpy and scipy only.

Inputs come in two parts: continuous coordinates ``xc`` (floats and integers on the encoded
axis) and categorical codes ``xk``, whose distance is 0 for the same category and 1 otherwise
(a Hamming kernel term), so choices never get a spurious order. Hyperparameters are fitted by
maximising the marginal likelihood plus log-priors, with analytic gradients.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

# scipy.linalg and scipy.special are imported inside the functions that use them: at the top they would add
# about a third of a second to `import tunesmith` and to every CLI command.

__all__ = [
    "GPModel",
    "Hyper",
    "add_log_feasibility",
    "classifier_lengthscales",
    "fit_hyper",
    "log_h",
    "OutputTransform",
    "transform_outputs",
]

_SQRT5 = math.sqrt(5.0)
_LOG_INV_SQRT_2PI = -0.5 * math.log(2.0 * math.pi)
# The feasibility model regresses +1/-1 labels; P(feasible) = Phi(mean / sqrt(slack + variance)).
# A small slack makes a region surrounded by failures nearly forbidden, while unexplored regions
# (mean 0) keep probability one half.
_FEASIBILITY_SLACK = 0.01
# Newton steps that find the mode of a classifier's latent function (`_laplace`); they converge in 5-10.
_LAPLACE_STEPS = 40
# The classifier's latent signal variance (log-normal prior, and bounds) when its lengthscales are
# fitted (`classifier_lengthscales`). A constraint is deterministic: the probit link's unit noise
# should flip a label only close to the boundary, so the latent function's scale is about ten times
# the link's (variance 100). At the loss model's prior (variance 1) one infeasible trial among 27
# feasible ones read as label noise: the lengthscales grew to 2.9 and P(feasible) beside it was 0.98.
_CLASSIFIER_SIGNAL_PRIOR = (math.log(100.0), 1.0)
_CLASSIFIER_SIGNAL_BOUNDS = (math.log(0.05), math.log(1e4))


@dataclass(frozen=True)
class Hyper:
    """Kernel hyperparameters (natural scale)."""

    lengthscale: np.ndarray  # one per continuous then categorical dimension
    signal: float
    noise: float


def _r2(xc1: np.ndarray, xk1: np.ndarray, xc2: np.ndarray, xk2: np.ndarray, ls: np.ndarray) -> np.ndarray:
    dc = xc1.shape[1]
    r2 = np.zeros((len(xc1), len(xc2)))
    if dc:
        a = xc1 / ls[:dc]
        b = xc2 / ls[:dc]
        r2 += np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2.0 * a @ b.T
    for j in range(xk1.shape[1]):
        r2 += (xk1[:, j][:, None] != xk2[:, j][None, :]) / ls[dc + j] ** 2
    return np.maximum(r2, 0.0)


def _matern(r2: np.ndarray, signal: float) -> tuple[np.ndarray, np.ndarray]:
    """Kernel values and ``g = -dk/dr / r`` (finite at r = 0), both scaled by ``signal``."""
    r = np.sqrt(r2)
    e = np.exp(-_SQRT5 * r)
    k = signal * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * e
    g = signal * (5.0 / 3.0) * (1.0 + _SQRT5 * r) * e
    return k, g


def _chol(k: np.ndarray) -> np.ndarray:
    from scipy.linalg import LinAlgError, cho_factor

    jitter = 0.0
    for _ in range(6):
        try:
            return np.asarray(cho_factor(k + jitter * np.eye(len(k)), lower=True, check_finite=False)[0])
        except LinAlgError:
            jitter = 1e-8 if jitter == 0.0 else jitter * 100.0
    raise LinAlgError("the kernel matrix is not positive definite even with jitter")


class GPModel:
    """A GP conditioned on data, with predictions and their gradients in the continuous inputs."""

    def __init__(self, xc: np.ndarray, xk: np.ndarray, y: np.ndarray, hyper: Hyper, mean: float = 0.0) -> None:
        from scipy.linalg import cho_solve

        self.xc = xc
        self.xk = xk
        self.hyper = hyper
        self.mean = mean
        k, _ = _matern(_r2(xc, xk, xc, xk, hyper.lengthscale), hyper.signal)
        k[np.diag_indices_from(k)] += hyper.noise
        self.chol = _chol(k)
        self.alpha = cho_solve((self.chol, True), y - mean, check_finite=False)

    def believe(self, y: np.ndarray, xc: np.ndarray, xk: np.ndarray) -> tuple[GPModel, np.ndarray]:
        """This model (fitted to ``y``) also conditioned on its own predictions at ``(xc, xk)`` (kriging believer).

        The new model keeps the hyperparameters and the prior mean: a believer built on mean 0
        would forget the pessimistic prior and make every unexplored corner look average again.

        Returns:
            The conditioned model and the believed values.
        """
        believed = self.predict(xc, xk)[0]
        model = GPModel(
            np.vstack([self.xc, xc]), np.vstack([self.xk, xk]), np.concatenate([y, believed]), self.hyper, self.mean
        )
        return model, believed

    def predict(
        self, xc: np.ndarray, xk: np.ndarray, grad: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Posterior mean and variance at ``(xc, xk)`` and, with ``grad``, their gradients in ``xc``."""
        from scipy.linalg import solve_triangular

        ls = self.hyper.lengthscale
        kx, g = _matern(_r2(xc, xk, self.xc, self.xk, ls), self.hyper.signal)
        mu = kx @ self.alpha + self.mean
        v = solve_triangular(self.chol, kx.T, lower=True, check_finite=False)
        var = np.maximum(self.hyper.signal - np.sum(v * v, axis=0), 1e-12)
        if not grad:
            return mu, var, None, None
        dc = xc.shape[1]
        inv_ls2 = 1.0 / ls[:dc] ** 2
        ga = g * self.alpha[None, :]
        dmu = -(xc * ga.sum(axis=1)[:, None] - ga @ self.xc) * inv_ls2
        w = solve_triangular(self.chol.T, v, lower=False, check_finite=False).T  # K^-1 kx^T, as rows
        gw = g * w
        dvar = 2.0 * (xc * gw.sum(axis=1)[:, None] - gw @ self.xc) * inv_ls2
        return mu, var, dmu, dvar


def _prior_center(d: int) -> float:
    # A dimension-scaled log-normal lengthscale prior (after Hvarfner et al., 2024: longer scales in
    # higher d), centred at sqrt(d) rather than their e^sqrt(2) * sqrt(d): at 25-50 trials the longer
    # scales smooth the model into a near-quadratic that misses Hartmann-6's basins (benchmark:
    # hartmann6 score 64 -> 74, mixed 88 -> 94 over 16 seeds).
    return 0.5 * math.log(max(d, 1))


_LS_PRIOR_SD = math.sqrt(3.0)
# A choice's distance is 0 or 1 whatever the dimension: its lengthscale prior is centred at 1 (a
# different option correlates about 0.5), so a choice is not written off as irrelevant because a
# few early trials varied the continuous axes more.
_CAT_LS_PRIOR = (0.0, 1.0)
# ... and capped, so that an option never tried near the incumbent keeps some uncertainty there.
_CAT_LS_MAX = 2.0
_FIT_START_SCALES = (0.25, 1.0, 0.08)  # initial lengthscales, times sqrt(d)
_NOISE_PRIOR = (math.log(1e-3), 2.0)
_SIGNAL_PRIOR = (0.0, 1.0)


def _lengthscale_prior(dc: int, dk: int) -> tuple[np.ndarray, np.ndarray]:
    """The centre and spread of the normal prior on each log-lengthscale (continuous, then categorical)."""
    d = dc + dk
    center = np.concatenate([np.full(dc, _prior_center(d)), np.full(dk, _CAT_LS_PRIOR[0])])
    spread = np.concatenate([np.full(dc, _LS_PRIOR_SD), np.full(dk, _CAT_LS_PRIOR[1])])
    return center, spread


def _lengthscale_bounds(dc: int, dk: int) -> list[tuple[float, float]]:
    return [(math.log(0.01), math.log(50.0))] * dc + [(math.log(0.01), math.log(_CAT_LS_MAX))] * dk


def _distances(xc: np.ndarray, xk: np.ndarray) -> np.ndarray:
    """Per-dimension squared distances (categorical: 0 or 1), one flattened row per dimension.

    Flattened so that the distance and the lengthscale gradient are each one matrix-vector product.
    """
    n, dc = xc.shape
    parts = [((xc[:, j][:, None] - xc[:, j][None, :]) ** 2).ravel() for j in range(dc)]
    parts += [(xk[:, j][:, None] != xk[:, j][None, :]).astype(float).ravel() for j in range(xk.shape[1])]
    return np.vstack(parts) if parts else np.zeros((0, n * n))


def fit_hyper(xc: np.ndarray, xk: np.ndarray, y: np.ndarray, maxiter: int = 30, restarts: int = 3) -> Hyper:
    """Maximise the log marginal likelihood plus log-priors over log-lengthscales, signal and noise."""
    from scipy.linalg import LinAlgError, cho_solve, lapack

    n, dc = xc.shape
    dk = xk.shape[1]
    d = dc + dk
    center, spread = _lengthscale_prior(dc, dk)
    dist = _distances(xc, xk)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        ls = np.exp(theta[:d])
        signal = math.exp(theta[d])
        noise = math.exp(theta[d + 1])
        inv_ls2 = 1.0 / ls**2
        r2 = (inv_ls2 @ dist).reshape(n, n)
        k, g = _matern(r2, signal)
        k[np.diag_indices_from(k)] += noise
        try:
            chol = _chol(k)
        except LinAlgError:
            return 1e10, np.zeros_like(theta)
        alpha = cho_solve((chol, True), y, check_finite=False)
        inv, info = lapack.dpotri(chol, lower=1)
        if info != 0:
            return 1e10, np.zeros_like(theta)
        inv = np.tril(inv) + np.tril(inv, -1).T
        nll = 0.5 * float(y @ alpha) + float(np.sum(np.log(np.diag(chol)))) + 0.5 * n * math.log(2 * math.pi)
        w = inv - np.outer(alpha, alpha)  # d nll / d K = w / 2
        grad = np.empty_like(theta)
        m = w * g
        grad[:d] = 0.5 * (dist @ m.ravel()) * inv_ls2
        kf = k.copy()
        kf[np.diag_indices_from(kf)] -= noise
        grad[d] = 0.5 * float(np.sum(w * kf))
        grad[d + 1] = 0.5 * noise * float(np.trace(w))
        # Log-priors (negated): normal on log-lengthscale, log-signal and log-noise.
        prior = 0.5 * np.sum(((theta[:d] - center) / spread) ** 2)
        grad[:d] += (theta[:d] - center) / spread**2
        prior += 0.5 * ((theta[d] - _SIGNAL_PRIOR[0]) / _SIGNAL_PRIOR[1]) ** 2
        grad[d] += (theta[d] - _SIGNAL_PRIOR[0]) / _SIGNAL_PRIOR[1] ** 2
        prior += 0.5 * ((theta[d + 1] - _NOISE_PRIOR[0]) / _NOISE_PRIOR[1]) ** 2
        grad[d + 1] += (theta[d + 1] - _NOISE_PRIOR[0]) / _NOISE_PRIOR[1] ** 2
        return nll + float(prior), grad

    # Several starts: the likelihood of a few dozen points often has a short-lengthscale mode (a
    # wiggly fit) and a long one (a smooth trend); one start finds whichever is nearer.
    starts = [
        np.concatenate([np.full(d, math.log(scale * math.sqrt(d))), [0.0, math.log(1e-3)]])
        for scale in _FIT_START_SCALES[:restarts]
    ]
    bounds = [*_lengthscale_bounds(dc, dk), (math.log(0.05), math.log(20.0)), (math.log(1e-6), math.log(0.5))]
    theta, best = starts[0], math.inf
    from scipy.optimize import minimize  # imported on first use: keeps `import tunesmith` light

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for start in starts:
            result = minimize(
                objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": maxiter}
            )
            if np.all(np.isfinite(result.x)) and float(result.fun) < best:
                theta, best = result.x, float(result.fun)
    return Hyper(lengthscale=np.exp(theta[:d]), signal=math.exp(theta[d]), noise=math.exp(theta[d + 1]))


def _probit(labels: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``log Phi(labels * f)`` and, in ``f``, its first derivative, its second negated, and its third."""
    from scipy.special import log_ndtr

    z = labels * f
    log_p = log_ndtr(z)
    ratio = np.exp(-0.5 * z * z + _LOG_INV_SQRT_2PI - log_p)  # phi(z) / Phi(z)
    curvature = np.maximum(ratio * (ratio + z), 1e-12)
    third = labels * (ratio * (z + ratio) * (z + 2.0 * ratio) - ratio)
    return log_p, labels * ratio, curvature, third


@dataclass(frozen=True)
class _Laplace:
    """The Laplace approximation of a probit classifier's latent posterior at its mode ``f``.

    Attributes:
        f: the mode.
        grad: the log-likelihood's gradient at the mode (``K^-1 f`` there).
        curvature: the log-likelihood's negated second derivatives at the mode (``W``).
        third: its third derivatives at the mode.
        chol: the lower Cholesky factor of ``I + W^1/2 K W^1/2``.
        log_evidence: the approximate log marginal likelihood.
    """

    f: np.ndarray
    grad: np.ndarray
    curvature: np.ndarray
    third: np.ndarray
    chol: np.ndarray
    log_evidence: float


def _laplace(k: np.ndarray, labels: np.ndarray, start: np.ndarray) -> _Laplace:
    """Newton's method for the mode of the latent posterior (Rasmussen & Williams, 2006, algorithm 3.1).

    Written with ``B = I + W^1/2 K W^1/2``, whose eigenvalues are at least one, so a kernel matrix
    that is singular to working precision (trials closer than a lengthscale) needs no jitter.
    """
    from scipy.linalg import cho_solve, cholesky

    eye = np.eye(len(labels))
    f = start
    a: np.ndarray | None = None
    psi = -math.inf
    for _ in range(_LAPLACE_STEPS):
        _, grad, curvature, _ = _probit(labels, f)
        root = np.sqrt(curvature)
        chol = cholesky(eye + root[:, None] * k * root[None, :], lower=True, check_finite=False)
        b = curvature * f + grad
        step = b - root * cho_solve((chol, True), root * (k @ b), check_finite=False)
        # Newton on a log-concave likelihood rarely overshoots; when it does, halving the step towards
        # the last iterate (the objective is concave in ``a``) restores the ascent.
        for _ in range(20):
            f_new = k @ step
            psi_new = -0.5 * float(step @ f_new) + float(np.sum(_probit(labels, f_new)[0]))
            if a is None or psi_new >= psi:
                break
            step = 0.5 * (a + step)
        done = a is not None and abs(psi_new - psi) <= 1e-10 * (1.0 + abs(psi))
        a, f, psi = step, f_new, psi_new
        if done:
            break
    log_p, grad, curvature, third = _probit(labels, f)
    root = np.sqrt(curvature)
    chol = cholesky(eye + root[:, None] * k * root[None, :], lower=True, check_finite=False)
    evidence = -0.5 * float(grad @ f) + float(np.sum(log_p)) - float(np.sum(np.log(np.diag(chol))))
    return _Laplace(f, grad, curvature, third, chol, evidence)


def _classifier_evidence(
    theta: np.ndarray, dist: np.ndarray, labels: np.ndarray, prior: tuple[np.ndarray, np.ndarray], start: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """The negated Laplace evidence of a probit classifier plus the negated log-prior, its gradient, and the mode.

    ``theta`` holds the log-lengthscales then the log-signal, and ``prior`` the centre and spread of
    their normal prior. The gradient is Rasmussen & Williams' (2006) algorithm 5.1: the kernel's direct
    effect plus its effect through the mode it moves.
    """
    from scipy.linalg import cho_solve, solve_triangular

    d, n = len(theta) - 1, len(labels)
    inv_ls2 = np.exp(-2.0 * theta[:d])
    k, g = _matern((inv_ls2 @ dist).reshape(n, n), math.exp(theta[d]))
    fit = _laplace(k, labels, start)
    root = np.sqrt(fit.curvature)
    r = root[:, None] * cho_solve((fit.chol, True), np.diag(root), check_finite=False)  # (K + W^-1)^-1
    c = solve_triangular(fit.chol, root[:, None] * k, lower=True, check_finite=False)
    # The evidence's derivative in the mode: half the posterior variance times the third derivative.
    s2 = 0.5 * (np.diag(k) - np.sum(c * c, axis=0)) * fit.third
    a = fit.grad
    grad = np.empty(d + 1)
    # dK / d log(lengthscale_j) = g * dist_j / lengthscale_j^2; it moves the mode by (I + K W)^-1 (dK a).
    grad[:d] = 0.5 * (dist @ ((np.outer(a, a) - r) * g).ravel()) * inv_ls2
    moved = ((dist.reshape(d, n, n) * g[None, :, :]) @ a) * inv_ls2[:, None]
    grad[:d] += (moved - (k @ (r @ moved.T)).T) @ s2
    # dK / d log(signal) = K
    ka = k @ a
    grad[d] = 0.5 * float(a @ ka) - 0.5 * float(np.sum(r * k)) + float(s2 @ (ka - k @ (r @ ka)))
    center, spread = prior
    penalty = 0.5 * float(np.sum(((theta - center) / spread) ** 2))
    return -fit.log_evidence + penalty, -grad + (theta - center) / spread**2, fit.f


def classifier_lengthscales(
    xc: np.ndarray, xk: np.ndarray, labels: np.ndarray, maxiter: int = 30, restarts: int = 3
) -> np.ndarray:
    """How far a label reaches along each dimension: the lengthscales of a probit GP classifier of ``labels``.

    They maximise the classifier's Laplace evidence plus `fit_hyper`'s lengthscale priors, with the
    latent signal's prior centred far above the link's unit noise (`_CLASSIFIER_SIGNAL_PRIOR`). A
    sharp boundary between +1 and -1 is then a steep latent function rather than a short lengthscale,
    while an isolated -1 still needs a latent dip of its own to be explained.
    """
    n, dc = xc.shape
    dk = xk.shape[1]
    d = dc + dk
    center, spread = _lengthscale_prior(dc, dk)
    prior = (np.append(center, _CLASSIFIER_SIGNAL_PRIOR[0]), np.append(spread, _CLASSIFIER_SIGNAL_PRIOR[1]))
    dist = _distances(xc, xk)
    bounds = [*_lengthscale_bounds(dc, dk), _CLASSIFIER_SIGNAL_BOUNDS]
    best_theta, best = np.full(d, math.log(math.sqrt(d))), math.inf
    from scipy.optimize import minimize

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for scale in _FIT_START_SCALES[:restarts]:
            # Each evaluation starts Newton from the previous mode: nearby kernels have nearby modes.
            mode = np.zeros(n)

            def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
                nonlocal mode
                value, gradient, mode = _classifier_evidence(theta, dist, labels, prior, mode)
                return value, gradient

            start = np.append(np.full(d, math.log(scale * math.sqrt(d))), _CLASSIFIER_SIGNAL_PRIOR[0])
            result = minimize(
                objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": maxiter}
            )
            if np.all(np.isfinite(result.x)) and float(result.fun) < best:
                best_theta, best = result.x[:d], float(result.fun)
    return np.exp(best_theta)


def transform_outputs(y: np.ndarray) -> np.ndarray:
    """Robust scaling, a log squash of the tails, a Yeo-Johnson power transform, then standardisation.

    Heavy tails (one diverged run at 1e6 among losses near 0.1) would otherwise flatten the
    model everywhere else: values are first centred on the median and scaled by the median
    absolute deviation, then ``sign(z) * log1p(|z|)`` keeps the order but bounds the tails, and a
    power transform fitted by maximum likelihood (the NeurIPS 2020 black-box challenge's trick)
    makes the rest closer to Gaussian. `OutputTransform` keeps the fitted steps for other values.
    """
    return OutputTransform(y)(y)


class OutputTransform:
    """The monotone map `transform_outputs` fits on ``y``, applicable to other values (a reference point)."""

    def __init__(self, y: np.ndarray) -> None:
        y = np.asarray(y, dtype=float)
        self.constant: float | None = None
        if len(y) < 2 or float(np.ptp(y)) <= 0 or not np.all(np.isfinite(y)):
            # NaN when the values are not all finite: everything then maps to 0
            self.constant = float(y[0]) if len(y) and np.all(np.isfinite(y)) else math.nan
            return
        self.median = float(np.median(y))
        scale = 1.4826 * float(np.median(np.abs(y - self.median)))
        self.scale = scale if scale > 0 else float(np.std(y))
        z = self._squash(y)
        self.lmbda: float | None = None
        if len(y) >= 5:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                try:
                    lmbda = _yeo_johnson_lambda(z)
                    t = _yeo_johnson(z, lmbda)
                except (ValueError, FloatingPointError, OverflowError):
                    t = z
                else:
                    if np.all(np.isfinite(t)) and float(np.std(t)) > 0:
                        self.lmbda, z = lmbda, t
        self.mean, self.std = float(np.mean(z)), float(np.std(z))

    def _squash(self, y: np.ndarray) -> np.ndarray:
        z = (y - self.median) / self.scale
        return np.asarray(np.sign(z) * np.log1p(np.abs(z)))

    def __call__(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        if self.constant is not None:  # no spread to scale by: the data sit at 0, others at +-1
            return np.zeros_like(values) if math.isnan(self.constant) else np.sign(values - self.constant)
        z = self._squash(values)
        if self.lmbda is not None:
            with np.errstate(all="ignore"):
                z = _yeo_johnson(z, self.lmbda)
        return (z - self.mean) / self.std


# The power transform's exponent is searched in this range: the inputs are log-squashed already
# (|z| < 15 for any float64), so wider exponents only overflow.
_YJ_BOUNDS = (-3.0, 5.0)


def _yeo_johnson(z: np.ndarray, lmbda: float) -> np.ndarray:
    """The Yeo-Johnson power transform of ``z`` with exponent ``lmbda``."""
    pos = z >= 0
    out = np.empty_like(z)
    a, b = z[pos], -z[~pos]
    out[pos] = np.log1p(a) if abs(lmbda) < 1e-12 else np.expm1(lmbda * np.log1p(a)) / lmbda
    out[~pos] = -np.log1p(b) if abs(lmbda - 2) < 1e-12 else -np.expm1((2 - lmbda) * np.log1p(b)) / (2 - lmbda)
    return out


def _yeo_johnson_lambda(z: np.ndarray) -> float:
    """The exponent maximising the Gaussian log-likelihood of the transformed values (bounded Brent search).

    Written here rather than calling `scipy.stats.yeojohnson`, whose per-call validation made the
    transform a fifth of a GP suggestion at 300 trials.
    """
    from scipy.optimize import fminbound

    jacobian = float(np.sum(np.sign(z) * np.log1p(np.abs(z))))

    def negative_llf(lmbda: float) -> float:
        var = float(np.var(_yeo_johnson(z, lmbda)))
        if not var > 0 or not math.isfinite(var):
            return math.inf
        return 0.5 * len(z) * math.log(var) - (lmbda - 1.0) * jacobian

    return float(fminbound(negative_llf, *_YJ_BOUNDS, xtol=1e-6))


def log_h(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log(z * Phi(z) + phi(z))`` and its derivative ``Phi(z) / h(z)``, stable for very negative z."""
    from scipy.special import erfcx, ndtr

    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    ratio = np.empty_like(z)
    big = z > -1.0
    zb = z[big]
    hb = zb * ndtr(zb) + np.exp(-0.5 * zb * zb + _LOG_INV_SQRT_2PI)
    out[big] = np.log(hb)
    ratio[big] = ndtr(zb) / hb
    zs = np.maximum(z[~big], -1e6)
    # h(z) = exp(-z^2/2) * (1/sqrt(2pi) + z/2 * erfcx(-z/sqrt 2)) for z < 0.
    ex = erfcx(-zs / math.sqrt(2.0))
    bracket = math.exp(_LOG_INV_SQRT_2PI) + 0.5 * zs * ex
    asym = math.exp(_LOG_INV_SQRT_2PI) / (zs * zs)  # leading term of the bracket as z -> -inf
    # The bracket loses digits to cancellation only far out; a floor at half the asymptote guards that,
    # and only there: near z = -1 the true bracket is well below the asymptote (it was once floored
    # everywhere, which overstated h by up to 45% for z in (-1.7, -1)).
    bracket = np.where(zs < -1e3, asym, np.where(zs < -10.0, np.maximum(bracket, asym * 0.5), bracket))
    out[~big] = -0.5 * zs * zs + np.log(bracket)
    ratio[~big] = 0.5 * ex / bracket
    return out, ratio


def add_log_feasibility(
    feasibility: GPModel, xc: np.ndarray, xk: np.ndarray, value: np.ndarray, gradient: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``value`` plus the log-probability of feasibility (and the gradient plus its gradient, when given)."""
    from scipy.special import log_ndtr

    fmu, fvar, fdmu, fdvar = feasibility.predict(xc, xk, gradient is not None)
    scale = np.sqrt(_FEASIBILITY_SLACK + fvar)
    t = fmu / scale
    log_p = log_ndtr(t)
    value = value + log_p
    if gradient is not None and fdmu is not None and fdvar is not None:
        dt = fdmu / scale[:, None] - (fmu / (2 * scale**3))[:, None] * fdvar
        mills = np.exp(-0.5 * t * t + _LOG_INV_SQRT_2PI - log_p)
        gradient = gradient + mills[:, None] * dt
    return value, gradient
