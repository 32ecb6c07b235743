//! List parameters, from a GET query string (pyairtable's `fields[]=A`, `sort[0][field]=B`,
//! `returnFieldsByFieldId=1`) or from a `POST …/listRecords` JSON body.

use crate::errors::{ApiError, ApiResult};
use crate::model::SortSpec;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListParams {
    pub page_size: Option<usize>,
    pub max_records: Option<usize>,
    pub offset: Option<String>,
    pub view: Option<String>,
    pub fields: Option<Vec<String>>,
    pub filter_by_formula: Option<String>,
    pub sort: Vec<SortSpec>,
    pub return_fields_by_field_id: bool,
    pub cell_format: Option<String>,
    pub time_zone: Option<String>,
    pub user_locale: Option<String>,
    pub comment_count: bool,
}

/// Decodes a raw query string into pairs (`+` and `%XX` decoded).
pub fn pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `1`, `true` → true; `0`, `false`, `` → false.
pub fn flag(value: &str) -> ApiResult<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" => Ok(true),
        "0" | "false" | "" => Ok(false),
        _ => Err(ApiError::invalid_request()),
    }
}

fn count(value: &str) -> ApiResult<usize> {
    value
        .trim()
        .parse::<usize>()
        .map_err(|_| ApiError::invalid_request())
}

/// `name[]`, `name[3]` and bare `name` all name the array parameter `name`.
fn array_key(key: &str, name: &str) -> bool {
    key == name
        || key.strip_prefix(name).is_some_and(|rest| {
            rest.starts_with('[') && rest.ends_with(']') && !rest[1..rest.len() - 1].contains('[')
        })
}

pub fn from_query(pairs: &[(String, String)]) -> ApiResult<ListParams> {
    let mut p = ListParams::default();
    let mut sorts: BTreeMap<usize, (Option<String>, Option<String>)> = BTreeMap::new();
    for (key, value) in pairs {
        match key.as_str() {
            "pageSize" => p.page_size = Some(count(value)?),
            "maxRecords" => p.max_records = Some(count(value)?),
            "offset" => p.offset = Some(value.clone()),
            "view" => p.view = Some(value.clone()),
            "filterByFormula" => p.filter_by_formula = Some(value.clone()),
            "returnFieldsByFieldId" => p.return_fields_by_field_id = flag(value)?,
            "cellFormat" => p.cell_format = Some(value.clone()),
            "timeZone" => p.time_zone = Some(value.clone()),
            "userLocale" => p.user_locale = Some(value.clone()),
            k if array_key(k, "fields") => {
                p.fields.get_or_insert_with(Vec::new).push(value.clone())
            }
            k if array_key(k, "recordMetadata") => p.comment_count |= value == "commentCount",
            k if k.starts_with("sort[") => {
                let (index, part) = parse_sort_key(k).ok_or_else(ApiError::invalid_request)?;
                let entry = sorts.entry(index).or_default();
                match part {
                    "field" => entry.0 = Some(value.clone()),
                    "direction" => entry.1 = Some(value.clone()),
                    _ => return Err(ApiError::invalid_request()),
                }
            }
            // Unknown parameters are ignored, so clients that send extras (e.g. timeZone on
            // a JSON list) keep working.
            _ => {}
        }
    }
    for (_, (field, direction)) in sorts {
        let field = field.ok_or_else(ApiError::invalid_request)?;
        p.sort.push(SortSpec {
            field,
            direction: direction.unwrap_or_else(|| "asc".into()),
        });
    }
    Ok(p)
}

/// `sort[0][field]` → `(0, "field")`.
fn parse_sort_key(key: &str) -> Option<(usize, &str)> {
    let rest = key.strip_prefix("sort[")?;
    let (index, rest) = rest.split_once(']')?;
    let part = rest.strip_prefix('[')?.strip_suffix(']')?;
    Some((index.parse().ok()?, part))
}

fn string(v: &Value) -> ApiResult<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(ApiError::invalid_request)
}

fn json_count(v: &Value) -> ApiResult<usize> {
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(ApiError::invalid_request)
}

/// The JSON body of `POST …/listRecords`; `timeZone`/`userLocale` may still come in the query.
pub fn from_body(body: &Value, query: &[(String, String)]) -> ApiResult<ListParams> {
    let obj = body.as_object().ok_or_else(ApiError::invalid_request)?;
    let mut p = from_query(query)?;
    for (key, value) in obj {
        match key.as_str() {
            "pageSize" => p.page_size = Some(json_count(value)?),
            "maxRecords" => p.max_records = Some(json_count(value)?),
            "offset" => p.offset = Some(string(value)?),
            "view" => p.view = Some(string(value)?),
            "filterByFormula" => p.filter_by_formula = Some(string(value)?),
            "returnFieldsByFieldId" => {
                p.return_fields_by_field_id = match value {
                    Value::Bool(b) => *b,
                    Value::String(s) => flag(s)?,
                    Value::Number(n) => n.as_u64() == Some(1),
                    _ => return Err(ApiError::invalid_request()),
                }
            }
            "cellFormat" => p.cell_format = Some(string(value)?),
            "timeZone" => p.time_zone = Some(string(value)?),
            "userLocale" => p.user_locale = Some(string(value)?),
            "fields" => {
                let items = value.as_array().ok_or_else(ApiError::invalid_request)?;
                p.fields = Some(items.iter().map(string).collect::<ApiResult<_>>()?);
            }
            "recordMetadata" => {
                p.comment_count = value
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v == "commentCount"));
            }
            "sort" => {
                let items = value.as_array().ok_or_else(ApiError::invalid_request)?;
                p.sort = items
                    .iter()
                    .map(|s| {
                        let field = string(s.get("field").ok_or_else(ApiError::invalid_request)?)?;
                        let direction = match s.get("direction") {
                            Some(d) => string(d)?,
                            None => "asc".into(),
                        };
                        Ok(SortSpec { field, direction })
                    })
                    .collect::<ApiResult<_>>()?;
            }
            // airtable.js (`select({method: 'post'})`, or any list whose URL would pass 15 000
            // characters) sends its whole option object as the body, `method` included, and
            // Airtable lists as asked.
            "method" => {}
            _ => return Err(ApiError::invalid_request()),
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pyairtable_query() {
        let q = pairs(
            "fields%5B%5D=Name&fields%5B%5D=Email&sort%5B0%5D%5Bfield%5D=Name&sort%5B0%5D%5Bdirection%5D=desc&returnFieldsByFieldId=1&pageSize=5&filterByFormula=%7BName%7D%3D%27a+b%27",
        );
        let p = from_query(&q).unwrap();
        assert_eq!(p.fields, Some(vec!["Name".into(), "Email".into()]));
        assert_eq!(
            p.sort,
            vec![SortSpec {
                field: "Name".into(),
                direction: "desc".into()
            }]
        );
        assert!(p.return_fields_by_field_id);
        assert_eq!(p.page_size, Some(5));
        assert_eq!(p.filter_by_formula.as_deref(), Some("{Name}='a b'"));
    }

    #[test]
    fn airtable_js_body_with_its_method_option() {
        let p = from_body(
            &json!({"method": "post", "pageSize": 40, "fields": ["Name"], "offset": "itr1"}),
            &[],
        )
        .unwrap();
        assert_eq!(p.page_size, Some(40));
        assert_eq!(p.offset.as_deref(), Some("itr1"));
        assert!(from_body(&json!({"pageSize": 1, "bogus": 1}), &[]).is_err());
    }

    #[test]
    fn body_params() {
        let p = from_body(
            &json!({"sort":[{"field":"A"}],"returnFieldsByFieldId":true,"pageSize":2}),
            &[],
        )
        .unwrap();
        assert_eq!(p.sort[0].direction, "asc");
        assert!(p.return_fields_by_field_id);
        assert!(from_body(&json!({"pageSize":"x"}), &[]).is_err());
    }
}
