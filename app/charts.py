"""Server-side SVG chart of recent closes with the forecast and its 80%/95% intervals (no JavaScript, no CDN)."""
from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 760, 300, 48


def forecast_chart_svg(history_dates, history_closes, predictions):
    """An inline SVG: history line, forecast line, shaded 95% and 80% bands, first and last date labels."""
    n_hist, n_pred = len(history_closes), len(predictions)
    lows = [p["lower_95"] for p in predictions] + list(history_closes)
    highs = [p["upper_95"] for p in predictions] + list(history_closes)
    y_min, y_max = min(lows), max(highs)
    span = (y_max - y_min) or 1.0
    total = n_hist + n_pred - 1 or 1

    def x(i):
        return PAD + (WIDTH - 2 * PAD) * i / total

    def y(v):
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v - y_min) / span

    def path(points):
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)

    last = (n_hist - 1, history_closes[-1])
    fc_x = range(n_hist, n_hist + n_pred)
    band95 = [last] + list(zip(fc_x, (p["upper_95"] for p in predictions), strict=True))
    band95 += list(zip(reversed(fc_x), (p["lower_95"] for p in reversed(predictions)), strict=True)) + [last]
    band80 = [last] + list(zip(fc_x, (p["upper_80"] for p in predictions), strict=True))
    band80 += list(zip(reversed(fc_x), (p["lower_80"] for p in reversed(predictions)), strict=True)) + [last]
    forecast_line = [last] + list(zip(fc_x, (p["close"] for p in predictions), strict=True))
    labels = [(0, history_dates[0], "start"), (total, predictions[-1]["date"], "end")]
    if x(total) - x(n_hist - 1) > 80:  # room for the last close's date without overlapping the end label
        labels.insert(1, (n_hist - 1, history_dates[-1], "middle"))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'id="forecast-chart" aria-label="Recent closes and forecast">',
             f'<polygon points="{path(band95)}" fill="#9ecae1" fill-opacity="0.35">'
             '<title>95% interval</title></polygon>',
             f'<polygon points="{path(band80)}" fill="#4292c6" fill-opacity="0.35">'
             '<title>80% interval</title></polygon>',
             f'<polyline points="{path(enumerate(history_closes))}" fill="none" stroke="#333" stroke-width="1.5"/>',
             f'<polyline points="{path(forecast_line)}" fill="none" stroke="#d62728" stroke-width="2" '
             f'stroke-dasharray="5,3"><title>forecast</title></polyline>']
    for value in (y_min, y_max):
        parts.append(f'<text x="4" y="{y(value) + 4:.1f}" font-size="11">{value:,.2f}</text>')
    parts.append(f'<line x1="{x(n_hist - 1):.1f}" y1="{PAD / 2}" x2="{x(n_hist - 1):.1f}" y2="{HEIGHT - PAD}" '
                 f'stroke="#999" stroke-dasharray="2,3"><title>last close {escape(history_dates[-1])}</title></line>')
    for i, label, anchor in labels:
        parts.append(f'<text x="{x(i):.1f}" y="{HEIGHT - PAD + 18}" font-size="11" text-anchor="{anchor}">'
                     f'{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
