"""Thresholds of forecast-interval coverage and of the degradation alarm, each with why it has its value.

Prometheus rules (prometheus/rules/model.yml), the performance report and the dashboards use these numbers;
tests/test_thresholds.py checks the rule file against them, since YAML cannot import Python.
"""

# The 80% band's realised coverage must stay within 70-90%: ten points either side, because 50 forecasts give a
# sampling spread of about +/-6 points around 80%, so a narrower band would page on luck.
COVERAGE_80_LOW = 0.70
COVERAGE_80_HIGH = 0.90
# Validated forecasts needed before coverage is judged: below 50 one ticker's bad day decides the figure.
COVERAGE_ALERT_MIN_FORECASTS = 50
# Degradation: the model's MAE on validated forecasts above naive's MAE on the same forecasts (rMAE > 1) means it
# does worse than repeating the last close, at any horizon mix.
RMAE_ALARM = 1.0
# Validated forecasts needed before the rMAE alarm may page: with fewer, one volatile week can tip the ratio.
RMAE_ALARM_MIN_FORECASTS = 100
# Window of the rMAE alarm and of the 7-day coverage, in days: long enough for the minimum counts to fill.
QUALITY_WINDOW_DAYS = 7
