//! Dispatch through a small agent: exit codes, exit reasons, probes, lenient stop.

use halvm_ocf::*;

const PARAMS: &[ParamDef] = &[
    ParamDef {
        required: true,
        longdesc: "What to run.",
        ..ParamDef::new("name", ParamType::String, "Name")
    },
    ParamDef {
        allowed: Some(&["fast", "slow"]),
        default: Some("fast"),
        longdesc: "Speed.",
        ..ParamDef::new("speed", ParamType::String, "Speed")
    },
];
static DEF: AgentDefinition = AgentDefinition {
    name: "demo",
    version: "1.0",
    shortdesc: "Demo",
    longdesc: "Demo agent.",
    params: PARAMS,
    actions: &[
        ActionDef::new(ActionName::Start, 20),
        ActionDef::new(ActionName::Stop, 20),
        ActionDef {
            interval_s: Some(10),
            depth: Some(0),
            ..ActionDef::new(ActionName::Monitor, 20)
        },
        ActionDef::new(ActionName::MetaData, 5),
        ActionDef::new(ActionName::ValidateAll, 5),
    ],
    check_levels: &[0, 10],
};

#[derive(Default)]
struct Demo {
    running: bool,
    seen_probe: Option<bool>,
    seen_level: Option<u32>,
    stop_saw_name: Option<Option<String>>,
}

impl Agent for Demo {
    fn definition(&self) -> &'static AgentDefinition {
        &DEF
    }
    fn validate_all(&mut self, ctx: &Ctx) -> Result<(), OcfError> {
        if ctx.params.str("name") == Some("bad") {
            return Err(OcfError::Misconfigured {
                resource: "demo".into(),
                why: "name must not be bad".into(),
            });
        }
        Ok(())
    }
    fn start(&mut self, ctx: &Ctx) -> Result<(), OcfError> {
        self.validate_all(ctx)?;
        self.running = true;
        Ok(())
    }
    fn stop(&mut self, ctx: &Ctx) -> Result<(), OcfError> {
        self.stop_saw_name = Some(ctx.params.str("name").map(str::to_string));
        self.running = false;
        Ok(())
    }
    fn monitor(&mut self, ctx: &Ctx) -> Result<Status, OcfError> {
        self.seen_probe = Some(ctx.is_probe());
        self.seen_level = Some(ctx.check_level());
        Ok(if self.running {
            Status::Running
        } else {
            Status::NotRunning
        })
    }
}

fn call(agent: &mut Demo, action: &[&str], vars: &[(&str, &str)]) -> (u8, String, String) {
    let mut args = vec!["demo".to_string()];
    args.extend(action.iter().map(|s| s.to_string()));
    let vars = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let rc = run(agent, &args, Env::Vars(vars), &mut out, &mut err);
    (
        rc.code(),
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn meta_data_and_usage_need_nothing() {
    let mut a = Demo::default();
    let (rc, out, _) = call(&mut a, &["meta-data"], &[("OCF_CHECK_LEVEL", "garbage")]);
    assert_eq!(rc, 0);
    assert!(out.starts_with("<?xml"), "{out}");
    let (rc, out, _) = call(&mut a, &["usage"], &[]);
    assert_eq!(
        (rc, out.trim()),
        (
            0,
            "usage: demo {start|stop|monitor|meta-data|validate-all|usage}"
        )
    );
}

#[test]
fn bad_invocations() {
    let mut a = Demo::default();
    let (rc, _, err) = call(&mut a, &[], &[]);
    assert_eq!(rc, 2, "{err}");
    let (rc, _, _) = call(&mut a, &["start", "extra"], &[("OCF_RESKEY_name", "x")]);
    assert_eq!(rc, 2);
    let (rc, _, err) = call(&mut a, &["promote"], &[("OCF_RESKEY_name", "x")]);
    assert_eq!(rc, 3, "not advertised");
    assert!(
        err.contains("ocf-exit-reason:action \"promote\" is not implemented"),
        "{err}"
    );
    let (rc, _, _) = call(&mut a, &["frobnicate"], &[]);
    assert_eq!(rc, 3);
    let (rc, _, err) = call(
        &mut a,
        &["monitor"],
        &[("OCF_RESKEY_name", "x"), ("CRM_meta_interval", "soon")],
    );
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.starts_with("ocf-exit-reason:environment variable CRM_meta_interval"),
        "{err}"
    );
}

#[test]
fn parameter_errors_exit_6_with_a_reason() {
    let mut a = Demo::default();
    let (rc, _, err) = call(&mut a, &["validate-all"], &[]);
    assert_eq!(rc, 6);
    assert_eq!(err, "ocf-exit-reason:required parameter name is not set\n");
    let (rc, _, err) = call(
        &mut a,
        &["validate-all"],
        &[("OCF_RESKEY_name", "x"), ("OCF_RESKEY_speed", "warp")],
    );
    assert_eq!(rc, 6);
    assert!(
        err.contains("ocf-exit-reason:parameter speed=\"warp\" is not one of: fast, slow"),
        "{err}"
    );
    let (rc, _, err) = call(&mut a, &["start"], &[("OCF_RESKEY_name", "bad")]);
    assert_eq!(rc, 6);
    assert!(
        err.contains("ocf-exit-reason:name must not be bad"),
        "{err}"
    );
    assert!(!a.running);
}

#[test]
fn lifecycle_probe_and_levels() {
    let mut a = Demo::default();
    let name = ("OCF_RESKEY_name", "x");
    assert_eq!(
        call(
            &mut a,
            &["monitor"],
            &[name, ("OCF_RESKEY_CRM_meta_interval", "0")]
        )
        .0,
        7
    );
    assert_eq!(a.seen_probe, Some(true));
    assert_eq!(call(&mut a, &["start"], &[name]).0, 0);
    assert_eq!(
        call(
            &mut a,
            &["status"],
            &[
                name,
                ("CRM_meta_interval", "10000"),
                ("OCF_CHECK_LEVEL", "15")
            ]
        )
        .0,
        0
    );
    assert_eq!((a.seen_probe, a.seen_level), (Some(false), Some(10)));
    assert_eq!(call(&mut a, &["stop"], &[name]).0, 0);
    assert_eq!(call(&mut a, &["monitor"], &[name]).0, 7);
}

#[test]
fn stop_tolerates_a_broken_configuration() {
    let mut a = Demo {
        running: true,
        ..Default::default()
    };
    let (rc, _, err) = call(&mut a, &["stop"], &[("OCF_RESKEY_speed", "warp")]);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(a.stop_saw_name, Some(None));
    assert!(!a.running);
}
