//! Two small charts as SVG (no plotting dependency, viewable anywhere): an hour-of-week heatmap
//! and a line over time.

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// 7 × 24 cells coloured by `lift` (red below the account's average, green above), with each
/// cell's own post count written in it and its value in a tooltip.
pub fn heatmap(title: &str, lift: &[f64], posts: &[usize]) -> String {
    let (cell, left, top) = (32.0, 48.0, 48.0);
    let (width, height) = (left + 24.0 * cell + 16.0, top + 7.0 * cell + 48.0);
    let extreme = lift.iter().fold(0.05f64, |m, v| m.max(v.abs()));
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <text x=\"{left}\" y=\"20\" font-size=\"14\">{}</text>\n",
        escape(title)
    );
    for hour in 0..24 {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{hour:02}</text>\n",
            left + hour as f64 * cell + cell / 2.0,
            top - 6.0
        ));
    }
    for (day, name) in DAYS.iter().enumerate() {
        let y = top + day as f64 * cell;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{name}</text>\n",
            left - 6.0,
            y + cell / 2.0 + 4.0
        ));
        for hour in 0..24 {
            let slot = day * 24 + hour;
            let value = lift.get(slot).copied().unwrap_or(0.0);
            let strength = (value.abs() / extreme).min(1.0);
            let fade = (255.0 * (1.0 - strength)).round() as u8;
            let colour = if value >= 0.0 {
                format!("rgb({fade},{},{fade})", 160 + (95.0 * (1.0 - strength)) as u8)
            } else {
                format!("rgb(255,{fade},{fade})")
            };
            let x = left + hour as f64 * cell;
            let n = posts.get(slot).copied().unwrap_or(0);
            svg.push_str(&format!(
                "<rect x=\"{x}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" fill=\"{colour}\" stroke=\"#fff\">\
                 <title>{} {hour:02}:00: {:+.0} %, {n} posts</title></rect>\n",
                name,
                100.0 * value
            ));
            if n > 0 {
                svg.push_str(&format!(
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"9\" fill=\"#333\">{n}</text>\n",
                    x + cell / 2.0,
                    y + cell / 2.0 + 3.0
                ));
            }
        }
    }
    svg.push_str(&format!(
        "<text x=\"{left}\" y=\"{}\">Colour: expected lift against the account's average slot (±{:.0} % at full colour); number: own posts.</text>\n</svg>\n",
        top + 7.0 * cell + 24.0,
        100.0 * extreme
    ));
    svg
}

/// One line of a chart: points of (Unix seconds, value).
pub struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    pub points: Vec<(i64, f64)>,
}

/// Lines over time.
pub fn lines(title: &str, y_label: &str, series: &[Series]) -> String {
    let (width, height, left, right, top, bottom) = (800.0, 320.0, 64.0, 16.0, 40.0, 40.0);
    let points: Vec<&(i64, f64)> = series.iter().flat_map(|s| s.points.iter()).collect();
    let (x_min, x_max) = points.iter().fold((i64::MAX, i64::MIN), |(lo, hi), (x, _)| (lo.min(*x), hi.max(*x)));
    let (y_min, y_max) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), (_, y)| (lo.min(*y), hi.max(*y)));
    let (y_min, y_max) = if y_max > y_min { (y_min.min(0.0), y_max) } else { (0.0, y_max.max(1.0)) };
    let x_span = (x_max - x_min).max(1) as f64;
    let sx = |x: i64| left + (x - x_min) as f64 / x_span * (width - left - right);
    let sy = |y: f64| top + (1.0 - (y - y_min) / (y_max - y_min)) * (height - top - bottom);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <text x=\"{left}\" y=\"20\" font-size=\"14\">{}</text>\n\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>\n\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"#999\"/>\n",
        escape(title),
        height - bottom,
        width - right,
        height - bottom,
        height - bottom
    );
    for i in 0..=4 {
        let y = y_min + (y_max - y_min) * i as f64 / 4.0;
        svg.push_str(&format!("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{y:.0}</text>\n", left - 6.0, sy(y) + 4.0));
    }
    svg.push_str(&format!(
        "<text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">{}</text>\n",
        (top + height - bottom) / 2.0,
        (top + height - bottom) / 2.0,
        escape(y_label)
    ));
    for (i, x) in [x_min, (x_min + x_max) / 2, x_max].iter().enumerate() {
        let date =
            chrono::DateTime::from_timestamp(*x, 0).map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string());
        let anchor = ["start", "middle", "end"][i];
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\">{date}</text>\n",
            sx(*x),
            height - bottom + 16.0
        ));
    }
    for (index, Series { name, colour, points }) in series.iter().enumerate() {
        let path: Vec<String> = points.iter().map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y))).collect();
        svg.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\n",
            path.join(" ")
        ));
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{}</text>\n",
            width - right - 220.0,
            top + 14.0 * index as f64,
            escape(name)
        ));
    }
    svg.push_str("</svg>\n");
    svg
}
