//! OCF 1.1 resource-agent framework: declarative agent definitions, environment, exit codes.
