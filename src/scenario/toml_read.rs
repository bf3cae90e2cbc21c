//! Reading a TOML document into a serde type while reporting every problem in one
//! pass, each with its key path, line and column.
//!
//! serde stops at the first unknown field or wrong type. To find the next one the
//! document is parsed once, with spans, and after each error the entry it points at
//! is dropped and the typed read tried again. Syntax errors come from toml's own
//! recovering parser, all at once.

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, Deserializer};
use toml::Spanned;

/// More than this many problems in one file are not worth listing.
const MOST_PROBLEMS: usize = 50;

/// The typed value, or every problem as "key.path (line L, column C): reason".
///
/// `stand_ins` is a TOML table of valid values for required keys (by key name, at any
/// depth): a bad value of such a key is replaced by its stand-in rather than dropped,
/// so that the read goes on past it instead of stopping at "missing field".
pub fn read_all<T: DeserializeOwned>(text: &str, stand_ins: &'static str) -> Result<T, Vec<String>> {
    let stand_ins = match DeTable::parse(stand_ins) {
        Ok(table) => table.into_inner(),
        Err(error) => return Err(vec![format!("internal: the stand-in values do not parse: {error}")]),
    };
    let (mut document, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        let mut problems: Vec<_> = syntax_errors
            .iter()
            .map(|error| (error.span().map_or(0, |s| s.start), located(text, None, error.span(), error.message())))
            .collect();
        problems.sort();
        return Err(problems.into_iter().map(|(_, problem)| problem).collect());
    }
    // (where, problem), sorted by place in the file at the end.
    let mut problems: Vec<(usize, String)> = Vec::new();
    // Keys dropped so far: a later "missing field" for one of them is a consequence, not news.
    let mut dropped: Vec<String> = Vec::new();
    while problems.len() < MOST_PROBLEMS {
        let error = match T::deserialize(Deserializer::from(document.clone())) {
            Ok(value) if problems.is_empty() => return Ok(value),
            Ok(_) => break,
            Err(error) => error,
        };
        let message = error.message().to_string();
        if dropped.iter().any(|key| message == format!("missing field `{key}`")) {
            break;
        }
        // No span, or a stand-in's: nothing more to learn.
        let Some(span) = error.span().filter(|span| span.start != usize::MAX) else {
            problems.push((usize::MAX, message));
            break;
        };
        let found = drop_entry_at(document.get_mut(), &span, "", &stand_ins);
        let problem = located(text, found.as_ref().map(|(path, _)| path.as_str()), Some(span.clone()), &message);
        problems.push((span.start, problem));
        match found {
            Some((_, key)) => dropped.push(key),
            None => break,
        }
    }
    problems.sort();
    Err(problems.into_iter().map(|(_, problem)| problem).collect())
}

/// "path (line L, column C): message" with 1-based line and column of the span's start.
fn located(text: &str, path: Option<&str>, span: Option<std::ops::Range<usize>>, message: &str) -> String {
    let message = message.trim_end();
    let Some(span) = span else { return message.to_string() };
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let line = text[..start].matches('\n').count() + 1;
    let column = text[..start].rsplit('\n').next().map_or(0, |prefix| prefix.chars().count()) + 1;
    match path {
        Some(path) => format!("{path} (line {line}, column {column}): {message}"),
        None => format!("line {line}, column {column}: {message}"),
    }
}

fn contains(outer: &std::ops::Range<usize>, inner: &std::ops::Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Drops the entry of `table` (at any depth) whose key or value holds `span`, returning
/// its dotted path (with array indices) and key. A span that is a whole table (a
/// missing field) drops nothing.
fn drop_entry_at<'i>(
    table: &mut DeTable<'i>,
    span: &std::ops::Range<usize>,
    prefix: &str,
    stand_ins: &DeTable<'static>,
) -> Option<(String, String)> {
    let mut to_drop = None;
    for (key, value) in table.iter_mut() {
        let name = key.get_ref().to_string();
        let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        if key.span() == *span {
            // A key that is itself wrong (unknown) goes, whatever its stand-in.
            to_drop = Some((path, name));
            break;
        }
        match inner_entry(value, span, &path, stand_ins) {
            Inner::Dropped(found) => return Some(found),
            Inner::WholeTable => return None,
            Inner::This(path) => {
                if let Some(stand_in) = stand_ins.get(name.as_str()) {
                    // Far outside the text, so no later error is placed on it.
                    *value = Spanned::new(usize::MAX..usize::MAX, stand_in.get_ref().clone());
                    // Replaced, not dropped: no "missing field" can follow from it.
                    return Some((path, String::new()));
                }
                to_drop = Some((path, name));
                break;
            }
            Inner::Elsewhere => {}
        }
    }
    let (path, name) = to_drop?;
    table.remove(name.as_str());
    Some((path, name))
}

enum Inner {
    /// An entry further in was dropped.
    Dropped((String, String)),
    /// The span is a whole table: nothing to drop.
    WholeTable,
    /// The entry holding this value is to be dropped; the path names the element.
    This(String),
    /// The span is not in this value.
    Elsewhere,
}

/// Where `span` lies in `value`. Tables are searched whatever their own span, which
/// for a `[header]` table covers the header only.
fn inner_entry(
    value: &mut Spanned<DeValue<'_>>,
    span: &std::ops::Range<usize>,
    path: &str,
    stand_ins: &DeTable<'static>,
) -> Inner {
    let value_span = value.span();
    match value.get_mut() {
        DeValue::Table(table) => match drop_entry_at(table, span, path, stand_ins) {
            Some(found) => Inner::Dropped(found),
            None if value_span == *span => Inner::WholeTable,
            None if contains(&value_span, span) && table.is_empty() => Inner::This(path.to_string()),
            None => Inner::Elsewhere,
        },
        DeValue::Array(elements) => {
            for (index, element) in elements.iter_mut().enumerate() {
                let element_path = format!("{path}[{index}]");
                let is_table = element.get_ref().is_table();
                match inner_entry(element, span, &element_path, stand_ins) {
                    Inner::Elsewhere => continue,
                    // A scalar element: drop the whole array (dropping one would change its length).
                    Inner::This(_) if !is_table => return Inner::This(element_path),
                    other => return other,
                }
            }
            if contains(&value_span, span) {
                Inner::This(path.to_string())
            } else {
                Inner::Elsewhere
            }
        }
        _ if contains(&value_span, span) => Inner::This(path.to_string()),
        _ => Inner::Elsewhere,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
        #[serde(default)]
        vol: Vec<f64>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        #[serde(default)]
        paths: u64,
        inner: Inner,
        #[serde(default)]
        items: Vec<Inner>,
    }

    #[test]
    fn every_unknown_field_and_wrong_type_is_reported_with_its_place() {
        let text = "paths = \"many\"\ncolour = 1\n[inner]\nn = 3\nvol = [0.1, \"x\"]\nsize = 2\n\n[[items]]\nn = -1\n";
        let problems = read_all::<Outer>(text, "n = 1").unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:#?}");
        let expect = [
            ("paths (line 1, column 9)", "invalid type"),
            ("colour (line 2, column 1)", "unknown field `colour`"),
            ("inner.vol[1] (line 5, column 13)", "invalid type"),
            ("inner.size (line 6, column 1)", "unknown field `size`"),
            ("items[0].n (line 9, column 5)", "invalid value"),
        ];
        for (place, reason) in expect {
            assert!(
                problems.iter().any(|p| p.starts_with(place) && p.contains(reason)),
                "{place}: {reason} not in {problems:#?}"
            );
        }
    }

    #[test]
    fn a_wrong_type_of_a_required_field_is_one_problem_not_two() {
        let problems = read_all::<Outer>("[inner]\nn = \"three\"\n", "").unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].starts_with("inner.n (line 2, column 5)"), "{problems:#?}");
    }

    #[test]
    fn every_syntax_error_is_reported_with_line_and_column() {
        let problems = read_all::<Outer>("paths = \n[inner\nn = 3 3\n", "").unwrap_err();
        assert!(problems.len() >= 2, "{problems:#?}");
        assert!(problems[0].starts_with("line 1, column"), "{problems:#?}");
        assert!(problems.iter().any(|p| p.starts_with("line 2")), "{problems:#?}");
    }

    #[test]
    fn a_good_document_reads() {
        let outer: Outer = read_all("paths = 3\n[inner]\nn = 2\nvol = [0.1]\n", "").unwrap();
        assert_eq!((outer.paths, outer.inner.n, outer.inner.vol.len()), (3, 2, 1));
    }
}
