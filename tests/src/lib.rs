//! Black-box tests live in `tests/tests/`: they boot the dev server binary and drive it over
//! HTTP, and they check `infra/template.yaml` against the code.
