//! How endpoints resolve, show and build: priority, OTLP paths, the insecure-http rule.

use super::*;

fn text(e: Option<Endpoint>) -> Option<(String, Origin)> {
    e.map(|e| (e.text, e.origin))
}

fn own(text: &str) -> Option<(String, Origin)> {
    Some((text.to_owned(), Origin::Difflore))
}

fn otel(base: Option<&str>, logs: Option<&str>) -> OtelEnv {
    OtelEnv {
        endpoint: base.map(str::to_owned),
        logs_endpoint: logs.map(str::to_owned),
        ..OtelEnv::default()
    }
}

#[test]
fn cli_beats_env_beats_config_beats_the_opentelemetry_variables() {
    let config = Config {
        endpoint: Some("file:///c".into()),
        ..Config::default()
    };
    let vars = otel(Some("http://127.0.0.1:4318"), None);
    let pick = |cli, env, config: &Config| text(resolve_with(cli, env, config, &vars));
    assert_eq!(
        pick(Some("file:///a"), Some("file:///b"), &config),
        own("file:///a")
    );
    assert_eq!(pick(None, Some("file:///b"), &config), own("file:///b"));
    assert_eq!(pick(None, Some(" "), &config), own("file:///c"));
    assert_eq!(
        pick(None, None, &Config::default()),
        Some(("http://127.0.0.1:4318".to_owned(), Origin::OtelBase))
    );
    let none = OtelEnv::default();
    assert!(resolve_with(None, None, &Config::default(), &none).is_none());
}

#[test]
fn shown_endpoints_carry_no_credentials() {
    assert_eq!(
        shown_endpoint("https://user:secret@collector.example/ingest?token=abc#x"),
        "https://collector.example/ingest"
    );
    assert_eq!(
        Endpoint::own("otlp+https://user:secret@otel.example:4318/base?k=v").shown(),
        "otlp+https://otel.example:4318/base"
    );
    let vars = otel(Some("https://u:p@otel.example/base/?k=v"), None);
    let e = resolve_with(None, None, &Config::default(), &vars).unwrap();
    assert_eq!(
        e.shown(),
        "https://otel.example/base/v1/logs (OTLP, from OTEL_EXPORTER_OTLP_ENDPOINT)"
    );
}

fn url_of(endpoint: &Endpoint, config: &Config) -> String {
    match build(endpoint, config) {
        Ok(Sink::Http(h)) => h.url.to_string(),
        Ok(Sink::Otlp(o)) => o.logs.expect("a logs signal").url.to_string(),
        Ok(Sink::File(_)) => panic!("a file sink"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn otlp_endpoints_post_to_the_logs_path_below_their_base() {
    let c = Config::default();
    let cases = [
        (
            "otlp+http://127.0.0.1:4318",
            "http://127.0.0.1:4318/v1/logs",
        ),
        (
            "OTLP+HTTP://localhost:4318/",
            "http://localhost:4318/v1/logs",
        ),
        (
            "otlp+https://otel.example/team/",
            "https://otel.example/team/v1/logs",
        ),
        (
            "otlp+https://otel.example:443/team",
            "https://otel.example/team/v1/logs",
        ),
    ];
    for (given, want) in cases {
        assert_eq!(url_of(&Endpoint::own(given), &c), want, "{given}");
    }
    let base = resolve_with(None, None, &c, &otel(Some("http://[::1]:4318/p"), None));
    assert_eq!(url_of(&base.unwrap(), &c), "http://[::1]:4318/p/v1/logs");
    let full = otel(
        Some("http://127.0.0.1:1"),
        Some("http://127.0.0.1:4318/custom"),
    );
    let logs = resolve_with(None, None, &c, &full).unwrap();
    assert_eq!(logs.origin(), Origin::OtelLogs);
    assert_eq!(url_of(&logs, &c), "http://127.0.0.1:4318/custom");
}

#[test]
fn plain_http_is_only_for_loopback_unless_allowed() {
    let c = Config::default();
    let build_own = |text: &str, c: &Config| build(&Endpoint::own(text), c);
    assert!(build_own("http://127.0.0.1:9/x", &c).is_ok());
    assert!(build_own("http://localhost:9/x", &c).is_ok());
    assert!(build_own("otlp+http://127.0.0.1:9", &c).is_ok());
    for insecure in [
        "http://collector.example/x",
        "otlp+http://collector.example",
    ] {
        assert!(
            matches!(build_own(insecure, &c), Err(EndpointError::Insecure(_))),
            "{insecure}"
        );
    }
    let from_otel = resolve_with(None, None, &c, &otel(Some("http://otel.example"), None));
    assert!(matches!(
        build(&from_otel.unwrap(), &c),
        Err(EndpointError::Insecure(_))
    ));
    let allowed = Config {
        allow_insecure_http: true,
        ..Config::default()
    };
    assert!(build_own("http://collector.example/x", &allowed).is_ok());
    assert!(build_own("otlp+http://collector.example", &allowed).is_ok());
}

#[test]
fn unsupported_schemes_and_paths_are_named() {
    let c = Config::default();
    let err = build(&Endpoint::own("ftp://x/y"), &c).err().unwrap();
    assert!(matches!(err, EndpointError::Scheme(_)));
    assert!(err.to_string().contains("otlp+https"), "{err}");
    assert!(matches!(
        build(&Endpoint::own("file://remote-host/out.ndjson"), &c),
        Err(EndpointError::FilePath(_))
    ));
    let vars = otel(Some("otlp+http://127.0.0.1:4318"), None);
    let err = build(&resolve_with(None, None, &c, &vars).unwrap(), &c)
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "OTEL_EXPORTER_OTLP_ENDPOINT otlp+http://127.0.0.1:4318 must be an http or https URL"
    );
}

fn otlp_of(endpoint: &Endpoint, config: &Config) -> crate::daemon::sink::otlp::OtlpSink {
    match build(endpoint, config) {
        Ok(Sink::Otlp(o)) => *o,
        Ok(_) => panic!("not an OTLP sink"),
        Err(e) => panic!("{e}"),
    }
}

fn with_vars(pairs: &[(&str, &str)]) -> OtelEnv {
    let mut env = otel(Some("http://127.0.0.1:4318"), None);
    for (k, v) in pairs {
        env.vars.insert((*k).to_owned(), (*v).to_owned());
    }
    env
}

#[test]
fn traces_go_below_the_same_base_or_to_their_own_url_as_given() {
    let c = Config::default();
    let o = otlp_of(&Endpoint::own("otlp+http://127.0.0.1:4318/team"), &c);
    assert_eq!(
        o.traces.unwrap().url.as_str(),
        "http://127.0.0.1:4318/team/v1/traces"
    );
    let env = with_vars(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9/t")]);
    let o = otlp_of(&resolve_with(None, None, &c, &env).unwrap(), &c);
    assert_eq!(o.traces.unwrap().url.as_str(), "http://127.0.0.1:9/t");
    assert_eq!(
        o.logs.unwrap().url.as_str(),
        "http://127.0.0.1:4318/v1/logs"
    );
    let logs_only = Config {
        otlp_signals: vec!["logs".into()],
        ..Config::default()
    };
    assert!(
        otlp_of(&Endpoint::own("otlp+http://127.0.0.1:1"), &logs_only)
            .traces
            .is_none()
    );
}

#[test]
fn a_signals_own_setting_beats_the_general_one_and_config_beats_the_variables() {
    use crate::daemon::sink::otlp::Protocol;
    let c = Config::default();
    let env = with_vars(&[]);
    let o = otlp_of(&resolve_with(None, None, &c, &env).unwrap(), &c);
    let logs = o.logs.unwrap();
    assert_eq!(
        logs.protocol,
        Protocol::Protobuf,
        "the specification's default"
    );
    assert!(logs.gzip);
    assert_eq!(logs.timeout, None);

    let env = with_vars(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
        ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "2500"),
    ]);
    let o = otlp_of(&resolve_with(None, None, &c, &env).unwrap(), &c);
    let (logs, traces) = (o.logs.unwrap(), o.traces.unwrap());
    assert_eq!(
        (logs.protocol, traces.protocol),
        (Protocol::Json, Protocol::Protobuf)
    );
    assert!(!logs.gzip && !traces.gzip);
    assert_eq!(logs.timeout, Some(std::time::Duration::from_millis(2500)));
    assert_eq!(traces.timeout, None);

    let config = Config {
        otlp_protocol: Some("http/protobuf".into()),
        otlp_traces_compression: Some("gzip".into()),
        ..Config::default()
    };
    let o = otlp_of(&resolve_with(None, None, &config, &env).unwrap(), &config);
    let (logs, traces) = (o.logs.unwrap(), o.traces.unwrap());
    assert_eq!(
        (logs.protocol, traces.protocol),
        (Protocol::Protobuf, Protocol::Protobuf)
    );
    assert!(!logs.gzip && traces.gzip);
}

#[test]
fn grpc_and_other_unknown_values_are_refused_by_name() {
    let c = Config::default();
    let env = with_vars(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
    let err = build(&resolve_with(None, None, &c, &env).unwrap(), &c)
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "OTEL_EXPORTER_OTLP_PROTOCOL = grpc is not an OTLP protocol difflored speaks: use http/protobuf (the default) or http/json"
    );
    let env = with_vars(&[("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "zstd")]);
    let err = build(&resolve_with(None, None, &c, &env).unwrap(), &c)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION = zstd"),
        "{err}"
    );
    let env = with_vars(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")]);
    let err = build(&resolve_with(None, None, &c, &env).unwrap(), &c)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("not a timeout in milliseconds"),
        "{err}"
    );
}
