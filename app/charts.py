"""Chart figures for the pages, as plotly.js figure specs (data + layout) that static/charts.js draws.

The figures are plain dicts in plotly.js's own schema: the page embeds them as JSON and the browser draws them
with the plotly.js bundled in the `plotly` package (served by the app itself, no CDN). Building them here keeps
the Python plotly package out of the workers' memory.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FONT_PX = 12  # chart text keeps this size on a phone: plotly.js sizes text in CSS pixels, not with the chart
HISTORY_COLOUR, FORECAST_COLOUR, BAND_COLOUR = "#222222", "#d62728", "31, 119, 180"
PRICE_FORMAT = ",.2f"
MAX_JOINED_GAP_DAYS = 7  # a long weekend with a holiday; longer gaps in a monitoring line are left open


def _layout(y_title: str, y_suffix: str = "", weekends: bool = True) -> dict:
    """Axes with gridlines, several ticks and units; legend under the plot; one hover box for all series."""
    xaxis = {"type": "date", "showgrid": True, "gridcolor": "#e5e5e5", "nticks": 8, "automargin": True,
             "tickformat": "%d %b\n%Y", "hoverformat": "%a %d %b %Y"}
    if weekends:
        xaxis["rangebreaks"] = [{"bounds": ["sat", "mon"]}]  # trading days only: no empty weekends
    return {
        "font": {"size": FONT_PX, "family": "system-ui, sans-serif"},
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
        "height": 380,
        "hovermode": "x unified",
        "hoverlabel": {"font": {"size": FONT_PX}},
        "xaxis": xaxis,
        "yaxis": {"title": {"text": y_title}, "showgrid": True, "gridcolor": "#e5e5e5", "nticks": 7,
                  "automargin": True, "ticksuffix": y_suffix, "separatethousands": True},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
        "plot_bgcolor": "#ffffff",
    }


def _band(level: str, dates: list, lower: list, upper: list, opacity: float) -> list[dict]:
    """A range as two lines, the lower one filled up to the upper one; hover shows both bounds by name."""
    common = {"x": dates, "mode": "lines", "line": {"width": 0}, "legendgroup": level, "name": level}
    return [
        {**common, "y": upper, "showlegend": False,
         "hovertemplate": f"{level}: high %{{y:{PRICE_FORMAT}}}<extra></extra>"},
        {**common, "y": lower, "fill": "tonexty", "fillcolor": f"rgba({BAND_COLOUR}, {opacity})",
         "hovertemplate": f"{level}: low %{{y:{PRICE_FORMAT}}}<extra></extra>"},
    ]


def forecast_figure(history_dates: list[str], history_closes: list[float], predictions: list[dict],
                    last_date: str, last_close: float) -> dict:
    """Recent closes, the forecast and its 80%/95% intervals, starting from the last known close."""
    dates = [last_date] + [p["date"] for p in predictions]

    def series(key):
        return [last_close] + [p[key] for p in predictions]

    data = [
        *_band("95% range", dates, series("lower_95"), series("upper_95"), 0.15),
        *_band("80% range", dates, series("lower_80"), series("upper_80"), 0.3),
        {"x": history_dates, "y": history_closes, "name": "Close", "mode": "lines",
         "line": {"color": HISTORY_COLOUR, "width": 2}, "hovertemplate": f"%{{y:{PRICE_FORMAT}}}"},
        {"x": dates, "y": series("close"), "name": "Forecast", "mode": "lines+markers",
         "line": {"color": FORECAST_COLOUR, "width": 2, "dash": "dash"}, "marker": {"size": 6},
         "hovertemplate": f"%{{y:{PRICE_FORMAT}}}"},
    ]
    layout = _layout("Close price (currency of the data)")
    layout["shapes"] = [{"type": "line", "xref": "x", "yref": "paper", "x0": last_date, "x1": last_date,
                         "y0": 0, "y1": 1, "line": {"color": "#999999", "dash": "dot", "width": 1}}]
    layout["annotations"] = [{"x": last_date, "xref": "x", "y": 1, "yref": "paper", "text": "last close",
                              "showarrow": False, "xanchor": "right", "yanchor": "top",
                              "font": {"size": FONT_PX - 1, "color": "#666666"}}]
    return {"data": data, "layout": layout}


@dataclass
class Series:
    """One line of a monitoring chart: values by ISO date (None where the day has no validated forecast)."""

    label: str
    points: list  # [(iso_date, value or None)]
    colour: str
    dashed: bool = False


def time_figure(series: list[Series], y_title: str, unit: str = "", threshold: float | None = None) -> dict:
    """Lines over target dates (markers show the days with data), with an optional dashed threshold."""
    data = []
    for s in series:
        known = _break_long_gaps([(day, value) for day, value in s.points if value is not None])
        data.append({"x": [d for d, _ in known], "y": [v for _, v in known], "name": s.label,
                     "mode": "lines+markers", "marker": {"size": 5},
                     "line": {"color": s.colour, "width": 2, "dash": "dash" if s.dashed else "solid"},
                     "hovertemplate": f"%{{y:,.3f}}{unit}"})
    layout = _layout(y_title, unit, weekends=False)
    layout["yaxis"]["rangemode"] = "tozero"
    if threshold is not None:
        days = sorted({d for s in series for d, v in s.points if v is not None})
        if days:
            data.append({"x": [days[0], days[-1]], "y": [threshold, threshold],
                         "name": f"threshold {threshold:g}{unit}", "mode": "lines", "hoverinfo": "skip",
                         "line": {"color": FORECAST_COLOUR, "dash": "dot", "width": 1.5}})
    return {"data": data, "layout": layout}


def _break_long_gaps(points: list) -> list:
    """Insert a gap (None) between days more than MAX_JOINED_GAP_DAYS apart: a line across months without
    forecasts would suggest values that were never measured."""
    out = []
    for day, value in points:
        if out and (dt.date.fromisoformat(day) - dt.date.fromisoformat(out[-1][0])).days > MAX_JOINED_GAP_DAYS:
            out.append((day, None))
        out.append((day, value))
    return out


def has_points(figure: dict) -> bool:
    """True when any series of the figure has a value to draw."""
    return any(trace.get("y") for trace in figure["data"] if trace.get("hoverinfo") != "skip")
