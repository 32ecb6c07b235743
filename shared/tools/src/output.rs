//! Bounded tool output. A tool's answer goes into a model's context window (chat) or an AI
//! client's (MCP), so it is cut to a byte budget, and a cut answer says so and how to narrow it.

use serde_json::{Value, json};

/// The default budget for one tool answer: about 12k tokens of JSON.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 48 * 1024;

/// A tool's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The structured result (MCP `structuredContent`; what chat hands the model).
    pub structured: Value,
    /// One line for people: what happened (chat's `tool_calls[].summary`).
    pub summary: String,
    /// Whether the result was cut to fit the budget.
    pub truncated: bool,
}

impl ToolOutput {
    pub fn new(structured: Value, summary: impl Into<String>) -> Self {
        Self {
            structured,
            summary: summary.into(),
            truncated: false,
        }
    }

    /// The result as compact JSON text (MCP `content[0].text`).
    pub fn text(&self) -> String {
        self.structured.to_string()
    }
}

fn size(value: &Value) -> usize {
    serde_json::to_string(value).map_or(usize::MAX, |s| s.len())
}

/// Cuts the array at `structured[list_key]` from the end until the whole value fits `max_bytes`,
/// then marks it: `truncated: true`, `returned` and a `note` saying how to narrow the request.
/// A value that fits is returned as it is.
pub fn bound_list(mut output: ToolOutput, list_key: &str, max_bytes: usize) -> ToolOutput {
    if size(&output.structured) <= max_bytes {
        return output;
    }
    let total = output.structured[list_key].as_array().map_or(0, Vec::len);
    // Binary search for the longest prefix that fits, leaving room for the note.
    let reserve = 400;
    let (mut low, mut high) = (0usize, total);
    let full = output.structured.clone();
    while low < high {
        let mid = (low + high).div_ceil(2);
        let mut candidate = full.clone();
        if let Some(items) = candidate[list_key].as_array_mut() {
            items.truncate(mid);
        }
        if size(&candidate) + reserve <= max_bytes {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    if let Some(items) = output.structured[list_key].as_array_mut() {
        items.truncate(low);
    }
    if let Some(object) = output.structured.as_object_mut() {
        object.insert("truncated".into(), Value::Bool(true));
        object.insert("returned".into(), json!(low));
        object.insert(
            "note".into(),
            Value::String(format!(
                "Output cut to {low} of {total} {list_key} to stay under {max_bytes} bytes; ask for fewer fields, a filter or a smaller max_records"
            )),
        );
    }
    output.truncated = true;
    output.summary = format!("{} (cut to {low} of {total})", output.summary);
    output
}

/// Cuts a text at `structured[text_key]` to whole lines within `max_bytes`, marking it like
/// [`bound_list`].
pub fn bound_text(mut output: ToolOutput, text_key: &str, max_bytes: usize) -> ToolOutput {
    if size(&output.structured) <= max_bytes {
        return output;
    }
    let text = output.structured[text_key]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut without_text = output.structured.clone();
    without_text[text_key] = Value::String(String::new());
    let overhead = size(&without_text) + 400;
    let budget = max_bytes.saturating_sub(overhead);
    let mut kept = String::new();
    let mut lines = 0usize;
    for line in text.split_inclusive('\n') {
        // JSON escaping can grow a line; count it escaped.
        if size(&Value::String(format!("{kept}{line}"))) > budget {
            break;
        }
        kept.push_str(line);
        lines += 1;
    }
    if let Some(object) = output.structured.as_object_mut() {
        object.insert(text_key.into(), Value::String(kept));
        object.insert("truncated".into(), Value::Bool(true));
        object.insert(
            "note".into(),
            Value::String(format!(
                "Output cut to its first {lines} lines to stay under {max_bytes} bytes; ask for fewer fields, a filter or a smaller max_records"
            )),
        );
    }
    output.truncated = true;
    output.summary = format!("{} (cut to {lines} lines)", output.summary);
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_outputs_pass_untouched() {
        let out = ToolOutput::new(json!({"records": [1, 2, 3]}), "3 records");
        assert_eq!(bound_list(out.clone(), "records", 10_000), out);
    }

    #[test]
    fn long_lists_are_cut_and_say_so() {
        let records: Vec<Value> = (0..500)
            .map(|i| json!({"id": i, "name": "x".repeat(50)}))
            .collect();
        let out = bound_list(
            ToolOutput::new(json!({"records": records}), "500 records"),
            "records",
            4_000,
        );
        assert!(out.truncated);
        assert!(size(&out.structured) <= 4_000, "{}", size(&out.structured));
        let kept = out.structured["records"].as_array().map_or(0, Vec::len);
        assert!(kept > 10 && kept < 500);
        assert_eq!(out.structured["returned"], json!(kept));
        assert!(
            out.structured["note"]
                .as_str()
                .unwrap_or_default()
                .contains("of 500 records")
        );
        assert!(out.summary.contains("cut to"));
    }

    #[test]
    fn long_texts_are_cut_at_line_ends() {
        let csv: String = (0..1000).map(|i| format!("row {i},\"quoted\"\n")).collect();
        let out = bound_text(
            ToolOutput::new(json!({"csv": csv}), "1000 rows"),
            "csv",
            2_000,
        );
        assert!(out.truncated);
        assert!(size(&out.structured) <= 2_000);
        let kept = out.structured["csv"].as_str().unwrap_or_default();
        assert!(kept.ends_with('\n') && kept.starts_with("row 0,"));
    }
}
