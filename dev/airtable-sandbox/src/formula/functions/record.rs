//! RECORD_ID, CREATED_TIME, LAST_MODIFIED_TIME.

use super::super::RecordContext;
use super::super::value::FormulaValue;

pub(super) fn call(
    name: &str,
    _args: &[FormulaValue],
    record: &dyn RecordContext,
) -> Option<FormulaValue> {
    Some(match name {
        "RECORD_ID" => FormulaValue::Text(record.record_id()),
        "CREATED_TIME" => FormulaValue::Date(record.created_time()),
        // The fake does not track per-field modification times, so
        // `LAST_MODIFIED_TIME({Field})` is the record's last modification time.
        "LAST_MODIFIED_TIME" => FormulaValue::Date(record.last_modified_time()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use crate::formula::testing::{TestRecord, date, run, run_on, text};

    #[test]
    fn record_metadata() {
        assert_eq!(run("RECORD_ID()"), text("recTEST000000001"));
        assert_eq!(run("CREATED_TIME()"), date(2024, 1, 2, 3, 4, 5));
        assert_eq!(run("LAST_MODIFIED_TIME()"), date(2024, 2, 3, 4, 5, 6));
        let r = TestRecord::new().with("Name", text("x"));
        assert_eq!(
            run_on("LAST_MODIFIED_TIME({Name})", &r),
            date(2024, 2, 3, 4, 5, 6)
        );
        assert_eq!(
            run("RECORD_ID() = 'recTEST000000001'"),
            crate::formula::FormulaValue::Bool(true)
        );
    }
}
