//! OCF conformance runs: ocf-tester, schema checks, crm_resource --validate.
