//! The one door for markup that maud does not escape: a chart's SVG, inlined in the page.
//!
//! plotters' SVG backend escapes `&`, `<`, `>`, `"` and `'` in every text and attribute value
//! it writes (`plotters-svg`, `escape_and_push`), so a scenario's names inside a chart are text.
//! [`checked`] does not take that on trust: it reads the SVG's tags and lets it into the page
//! only if it is one `<svg>` element holding nothing but the elements plotters draws, with no
//! event-handler (`on…`), link (`href`) or `style` attribute. An unescaped name would show up
//! here as a tag or attribute that is not allowed, and the chart is replaced by an error line
//! instead of reaching the browser.

use maud::PreEscaped;

/// The elements plotters' SVG backend writes (`SVGTag`), minus `image`, which the lab never
/// draws.
const ELEMENTS: [&str; 7] = [
    "svg", "circle", "line", "polygon", "polyline", "rect", "text",
];

/// Why a chart's SVG was not inlined.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("the chart is not UTF-8")]
    NotUtf8,
    #[error("the chart is not one <svg> element")]
    NotOneSvg,
    #[error("the chart has markup the page does not inline ({0})")]
    Markup(String),
}

/// `svg` as markup to inline, if it is safe to (see the module docs).
pub fn checked(svg: &[u8]) -> Result<PreEscaped<String>, Rejected> {
    let svg = std::str::from_utf8(svg)
        .map_err(|_| Rejected::NotUtf8)?
        .trim_end();
    if !svg.starts_with("<svg ") || !svg.ends_with("</svg>") {
        return Err(Rejected::NotOneSvg);
    }
    let mut opened = 0;
    let mut rest = svg;
    while let Some(at) = rest.find('<') {
        let tag = &rest[at + 1..];
        let end = tag
            .find('>')
            .ok_or_else(|| Rejected::Markup("an unclosed tag".into()))?;
        let tag = &tag[..end];
        check_tag(tag)?;
        if tag.starts_with("svg") {
            opened += 1;
        }
        rest = &rest[at + 1 + end + 1..];
    }
    if opened != 1 {
        return Err(Rejected::NotOneSvg);
    }
    Ok(PreEscaped(svg.to_owned()))
}

/// One tag's inside, between `<` and `>`: an allowed element, and attributes that are plain
/// names with double-quoted values.
fn check_tag(tag: &str) -> Result<(), Rejected> {
    let bad = |what: &str| Err(Rejected::Markup(what.to_owned()));
    if let Some(name) = tag.strip_prefix('/') {
        return if ELEMENTS.contains(&name) {
            Ok(())
        } else {
            bad(&format!("</{}>", shorten(name)))
        };
    }
    let tag = tag.strip_suffix('/').unwrap_or(tag);
    let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
    let name = &tag[..name_end];
    if !ELEMENTS.contains(&name) {
        return bad(&format!("<{}>", shorten(name)));
    }
    let mut attrs = tag[name_end..].trim_start();
    while !attrs.is_empty() {
        let Some((attr, value)) = attrs.split_once("=\"") else {
            return bad("an attribute without a quoted value");
        };
        let Some((_, after)) = value.split_once('"') else {
            return bad("an unterminated attribute value");
        };
        let lower = attr.to_ascii_lowercase();
        let plain = !attr.is_empty()
            && attr
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':');
        if !plain || lower.starts_with("on") || lower.contains("href") || lower == "style" {
            return bad(&format!("attribute {}", shorten(attr)));
        }
        attrs = after.trim_start();
    }
    Ok(())
}

/// At most 20 characters of `s`, for an error message.
fn shorten(s: &str) -> String {
    s.chars().take(20).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::{self, CHARTS, Format, fixture};

    fn check(svg: &str) -> Result<PreEscaped<String>, Rejected> {
        checked(svg.as_bytes())
    }

    #[test]
    fn every_chart_of_a_hostile_scenario_is_inlined_and_holds_its_names_as_text() {
        // plotters escapes every name it draws; the check lets the result through.
        let s = fixture::hostile();
        for c in chart::charts_for(s) {
            let svg = chart::render(c.name, s, Format::Svg).unwrap();
            let svg = checked(&svg)
                .unwrap_or_else(|e| panic!("{}: {e}", c.name))
                .0;
            for raw in ["<script", "<img", "<b>", "<i>", "</style", "</title"] {
                assert!(!svg.contains(raw), "{}: {raw}", c.name);
            }
            assert_eq!(svg.matches("</svg>").count(), 1, "{}", c.name);
        }
        // The names are there, escaped: a policy in the legend, a provider in the share chart.
        let success = chart::render("success_rate", s, Format::Svg).unwrap();
        let success = String::from_utf8(success).unwrap();
        assert!(success.contains("&lt;script&gt;"), "{success}");
        assert!(success.contains("=HYPERLINK(&quot;http://x&quot;"));
    }

    #[test]
    fn every_chart_of_the_fixture_passes() {
        for c in CHARTS {
            let svg = chart::render(c.name, fixture::summary(), Format::Svg).unwrap();
            checked(&svg).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        }
    }

    #[test]
    fn markup_plotters_does_not_write_is_refused() {
        let ok = r##"<svg width="10" height="10" xmlns="http://www.w3.org/2000/svg">
<rect x="0" y="0" width="1" height="1" fill="#FFFFFF"/>
<text x="1" y="2" font-family="sans-serif">a &lt;b&gt; &amp; &quot;c&quot;
</text>
</svg>
"##;
        assert!(check(ok).is_ok());
        let refused = [
            ok.replace("a &lt;b&gt;", "a <b>"),
            ok.replace("a &lt;b&gt;", "</text><script>alert(1)</script><text>"),
            ok.replace("a &lt;b&gt;", "</svg><img src=x onerror=alert(1)><svg>"),
            ok.replace("</text>", "</text><style>*{}</style>"),
            ok.replace(r##"fill="#FFFFFF""##, r#"onload="alert(1)""#),
            ok.replace(r##"fill="#FFFFFF""##, r#"ONLOAD="alert(1)""#),
            ok.replace(r##"fill="#FFFFFF""##, r#"xlink:href="javascript:alert(1)""#),
            ok.replace(r##"fill="#FFFFFF""##, r#"style="x""#),
            ok.replace(r##"fill="#FFFFFF""##, "fill=x"),
            ok.replace(r##"fill="#FFFFFF""##, r#"fill="x"#),
            ok.replace("<text ", "<text"),
            ok.replace("<svg ", "<g "),
            format!("{ok}<svg width=\"1\"></svg>"),
            ok.replace("</svg>", ""),
            "<svg width=\"1\"><rect".to_owned(),
        ];
        for svg in refused {
            assert!(check(&svg).is_err(), "let through: {svg}");
        }
        assert_eq!(checked(&[0xff, 0xfe]).unwrap_err(), Rejected::NotUtf8);
    }
}
