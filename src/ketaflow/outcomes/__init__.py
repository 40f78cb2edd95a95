"""Outcomes: each patient's trajectory and status per measure, booster recommendations on loss of
response, the progress report (PDF) and the clinic outcome dashboard. Every outcome definition
comes from ``ketaflow.clinical`` (``assess_outcome``, ``plan_boosters``, ``step_back_on_loss``)."""
