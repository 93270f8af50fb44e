//! Parse and validation errors; each names the element and its line.

/// One problem in a cluster.conf.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfError {
    #[error("line {line}, column {column}: malformed XML: {message}")]
    Xml {
        line: u32,
        column: u32,
        message: String,
    },
    #[error("line {line}: root element is <{found}>, expected <cluster>")]
    NotCluster { found: String, line: u32 },
    #[error("line {line}: <{element}> is missing required attribute `{attribute}`")]
    MissingAttribute {
        element: String,
        attribute: &'static str,
        line: u32,
    },
    #[error("line {line}: <{element}> attribute `{attribute}`={value:?}: expected {expected}")]
    BadAttribute {
        element: String,
        attribute: String,
        value: String,
        expected: &'static str,
        line: u32,
    },
    #[error("line {line}: <{element}> duplicate {what} {value:?} (first at line {first_line})")]
    Duplicate {
        element: String,
        what: &'static str,
        value: String,
        line: u32,
        first_line: u32,
    },
    #[error("line {line}: <service name={service:?}> names unknown failover domain {domain:?}")]
    UnknownDomain {
        service: String,
        domain: String,
        line: u32,
    },
    #[error("line {line}: <failoverdomainnode> in domain {domain:?} names unknown cluster node {node:?}")]
    UnknownDomainNode {
        domain: String,
        node: String,
        line: u32,
    },
    #[error(
        "line {line}: <{element} ref={reference:?}> refers to no <{element}> under <resources>"
    )]
    UnknownRef {
        element: String,
        reference: String,
        line: u32,
    },
    #[error("line {line}: <device name={device:?}> of node {node:?} names no <fencedevice>")]
    UnknownFenceDevice {
        node: String,
        device: String,
        line: u32,
    },
    #[error("line {line}: <{element}> nested deeper than {limit} levels")]
    TooDeep {
        element: String,
        limit: usize,
        line: u32,
    },
}

impl ConfError {
    pub fn line(&self) -> u32 {
        match self {
            ConfError::Xml { line, .. }
            | ConfError::NotCluster { line, .. }
            | ConfError::MissingAttribute { line, .. }
            | ConfError::BadAttribute { line, .. }
            | ConfError::Duplicate { line, .. }
            | ConfError::UnknownDomain { line, .. }
            | ConfError::UnknownDomainNode { line, .. }
            | ConfError::UnknownRef { line, .. }
            | ConfError::UnknownFenceDevice { line, .. }
            | ConfError::TooDeep { line, .. } => *line,
        }
    }
}

/// Every problem found in one file, in document order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct ConfErrors {
    pub errors: Vec<ConfError>,
}
