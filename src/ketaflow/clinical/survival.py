"""The Kaplan-Meier product-limit estimator with Greenwood confidence intervals (plain Python).

Kaplan EL, Meier P (1958) "Nonparametric estimation from incomplete observations", J Am Stat
Assoc 53:457-481: at each distinct event time t_i with n_i subjects at risk (time >= t_i) and d_i
events, S(t) = prod over t_i <= t of (1 - d_i / n_i). Subjects censored at t_i are at risk at t_i
(events are taken to happen before censorings at the same time, the usual convention).

Greenwood M (1926) "The natural duration of cancer", Reports on Public Health and Medical
Subjects 33:1-26: Var[S(t)] = S(t)^2 * sum d_i / (n_i (n_i - d_i)).

Confidence intervals at ``confidence`` (default 0.95, z from the normal distribution):

- ``"log"`` (the default of R's ``survival::survfit``, Therneau): exp(log S +- z * sigma) with
  sigma^2 = sum d_i / (n_i (n_i - d_i)), the upper end cut at 1;
- ``"plain"`` (the linear Greenwood interval of most textbooks): S +- z * S * sigma, cut to 0-1.

Where every subject at risk has the event (n_i = d_i), S drops to 0 and Greenwood's variance is
undefined: ``std_err`` is ``None`` and the interval is (0, 0) from there on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

from ketaflow.clinical.errors import ClinicalInputError

ConfType = Literal["log", "plain"]


@dataclass(frozen=True)
class Observation:
    """One subject: ``time`` until the event or until censoring; ``event`` False = censored."""

    time: float
    event: bool


@dataclass(frozen=True)
class Step:
    """The estimate just after one distinct event time."""

    time: float
    at_risk: int
    events: int
    censored: int  # censored at exactly this time (counted at risk here)
    survival: float
    std_err: float | None  # Greenwood standard error of S
    lower: float
    upper: float


@dataclass(frozen=True)
class KaplanMeier:
    n: int
    events: int
    steps: tuple[Step, ...]
    censored_times: tuple[float, ...]  # one entry per censored subject, sorted
    confidence: float
    conf_type: ConfType

    def survival_at(self, time: float) -> float:
        """S(time): the estimate of the last step at or before ``time`` (1 before the first)."""
        value = 1.0
        for step in self.steps:
            if step.time > time:
                break
            value = step.survival
        return value

    @property
    def median(self) -> float | None:
        """The first time S falls to 0.5 or below; ``None`` if it never does (not reached)."""
        return next((s.time for s in self.steps if s.survival <= 0.5), None)


def kaplan_meier(
    observations: Sequence[Observation],
    *,
    confidence: float = 0.95,
    conf_type: ConfType = "log",
) -> KaplanMeier:
    """Estimate S(t) from ``observations`` (times >= 0, in any order)."""
    if not 0 < confidence < 1:
        raise ClinicalInputError(f"confidence must be between 0 and 1, got {confidence}")
    if conf_type not in ("log", "plain"):
        raise ClinicalInputError(f"conf_type must be 'log' or 'plain', got {conf_type!r}")
    for i, obs in enumerate(observations):
        if not math.isfinite(obs.time) or obs.time < 0:
            raise ClinicalInputError(f"observation {i + 1}: time {obs.time!r} must be 0 or more")
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    ordered = sorted(observations, key=lambda o: o.time)
    n = len(ordered)
    at_risk = n
    survival = 1.0
    greenwood = 0.0  # sum d / (n (n - d)); infinite once S reaches 0
    steps: list[Step] = []
    i = 0
    while i < n:
        t = ordered[i].time
        j = i
        while j < n and ordered[j].time == t:
            j += 1
        events = sum(1 for o in ordered[i:j] if o.event)
        censored = (j - i) - events
        if events:
            survival *= 1 - events / at_risk
            if events < at_risk and not math.isinf(greenwood):
                greenwood += events / (at_risk * (at_risk - events))
            else:
                greenwood = math.inf
            steps.append(_step(t, at_risk, events, censored, survival, greenwood, z, conf_type))
        at_risk -= j - i
        i = j
    return KaplanMeier(
        n=n,
        events=sum(1 for o in ordered if o.event),
        steps=tuple(steps),
        censored_times=tuple(o.time for o in ordered if not o.event),
        confidence=confidence,
        conf_type=conf_type,
    )


def _step(
    time: float,
    at_risk: int,
    events: int,
    censored: int,
    survival: float,
    greenwood: float,
    z: float,
    conf_type: ConfType,
) -> Step:
    if survival <= 0 or math.isinf(greenwood):
        return Step(time, at_risk, events, censored, 0.0, None, 0.0, 0.0)
    sigma = math.sqrt(greenwood)
    std_err = survival * sigma
    if conf_type == "log":
        lower = survival * math.exp(-z * sigma)
        upper = min(survival * math.exp(z * sigma), 1.0)
    else:
        lower = max(survival - z * std_err, 0.0)
        upper = min(survival + z * std_err, 1.0)
    return Step(time, at_risk, events, censored, survival, std_err, lower, upper)
