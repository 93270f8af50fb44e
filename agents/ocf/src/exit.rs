//! OCF exit codes (OCF 1.1, "Return codes").

use std::fmt;

/// Every exit code an OCF 1.1 agent may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcfExit {
    Success,
    ErrGeneric,
    ErrArgs,
    ErrUnimplemented,
    ErrPerm,
    ErrInstalled,
    ErrConfigured,
    NotRunning,
    RunningPromoted,
    FailedPromoted,
    Degraded,
    DegradedPromoted,
}

impl OcfExit {
    pub const ALL: [OcfExit; 12] = [
        OcfExit::Success,
        OcfExit::ErrGeneric,
        OcfExit::ErrArgs,
        OcfExit::ErrUnimplemented,
        OcfExit::ErrPerm,
        OcfExit::ErrInstalled,
        OcfExit::ErrConfigured,
        OcfExit::NotRunning,
        OcfExit::RunningPromoted,
        OcfExit::FailedPromoted,
        OcfExit::Degraded,
        OcfExit::DegradedPromoted,
    ];

    /// The numeric process exit status.
    pub fn code(self) -> u8 {
        match self {
            OcfExit::Success => 0,
            OcfExit::ErrGeneric => 1,
            OcfExit::ErrArgs => 2,
            OcfExit::ErrUnimplemented => 3,
            OcfExit::ErrPerm => 4,
            OcfExit::ErrInstalled => 5,
            OcfExit::ErrConfigured => 6,
            OcfExit::NotRunning => 7,
            OcfExit::RunningPromoted => 8,
            OcfExit::FailedPromoted => 9,
            OcfExit::Degraded => 190,
            OcfExit::DegradedPromoted => 191,
        }
    }

    pub fn from_code(code: u8) -> Option<OcfExit> {
        OcfExit::ALL.into_iter().find(|e| e.code() == code)
    }

    /// The name ocf-shellfuncs gives the code.
    pub fn name(self) -> &'static str {
        match self {
            OcfExit::Success => "OCF_SUCCESS",
            OcfExit::ErrGeneric => "OCF_ERR_GENERIC",
            OcfExit::ErrArgs => "OCF_ERR_ARGS",
            OcfExit::ErrUnimplemented => "OCF_ERR_UNIMPLEMENTED",
            OcfExit::ErrPerm => "OCF_ERR_PERM",
            OcfExit::ErrInstalled => "OCF_ERR_INSTALLED",
            OcfExit::ErrConfigured => "OCF_ERR_CONFIGURED",
            OcfExit::NotRunning => "OCF_NOT_RUNNING",
            OcfExit::RunningPromoted => "OCF_RUNNING_PROMOTED",
            OcfExit::FailedPromoted => "OCF_FAILED_PROMOTED",
            OcfExit::Degraded => "OCF_DEGRADED",
            OcfExit::DegradedPromoted => "OCF_DEGRADED_PROMOTED",
        }
    }
}

impl fmt::Display for OcfExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_ocf_ones_and_round_trip() {
        let codes: Vec<u8> = OcfExit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 190, 191]);
        for e in OcfExit::ALL {
            assert_eq!(OcfExit::from_code(e.code()), Some(e));
        }
        assert_eq!(OcfExit::from_code(10), None);
        assert_eq!(OcfExit::ErrConfigured.to_string(), "OCF_ERR_CONFIGURED (6)");
    }
}
