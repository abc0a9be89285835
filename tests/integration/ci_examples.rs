//! The CI integrations of contrib/ci, run as their CI systems would run them: each file is
//! parsed (YAML with a YAML parser; the Jenkinsfile's `sh '''…'''` steps cut out of the
//! Groovy), and the shell it holds runs against a real node with the environment that CI
//! system sets. Triggers run through a real `fedci-node watch` and reach a local HTTP
//! receiver standing in for Jenkins or GitLab.

use fedci_tests::receiver::{Received, Receiver};
use fedci_tests::{Background, Node, node_bin};
use serde_json::Value;
use serde_norway::Value as Yaml;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long a watcher may take to hand one event to its command or webhook.
const WATCH_TIMEOUT: Duration = Duration::from_secs(60);

fn contrib(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../contrib/ci")
        .join(path)
}

fn read(path: &str) -> String {
    let p = contrib(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn yaml(path: &str) -> Yaml {
    serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

/// `PATH` with the fedci-node under test first, as a CI host with it installed.
fn path_env() -> String {
    let dir = node_bin().parent().expect("fedci-node has a directory");
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A command as a CI agent runs it: in a fresh workspace, FEDCI_HOME the node's home.
fn ci_command(node: &Node, program: &str, env: &[(&str, &str)]) -> (Command, tempfile::TempDir) {
    let work = tempfile::tempdir().expect("workspace");
    let mut cmd = Command::new(program);
    cmd.current_dir(work.path())
        .env("PATH", path_env())
        .env("FEDCI_HOME", node.home())
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    (cmd, work)
}

/// Runs `script` with bash -e; returns stdout, panics with stderr if it fails.
fn run_shell(node: &Node, script: &str, env: &[(&str, &str)]) -> String {
    let (mut cmd, _work) = ci_command(node, "bash", env);
    let out = cmd
        .args(["-e", "-c", script])
        .output()
        .expect("running bash");
    assert!(
        out.status.success(),
        "CI step failed ({}):\n{script}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The id a step printed as `fedci event ID`.
fn printed_id(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("fedci event "))
        .unwrap_or_else(|| panic!("no `fedci event ID` line in:\n{stdout}"))
        .trim()
        .to_string()
}

/// Replaces every `open expr close` (GitHub `${{ }}`, Jinja `{{ }}`) by its value; an
/// expression the test does not know is a failure, so the example cannot drift silently.
fn expand(text: &str, open: &str, close: &str, vars: &HashMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(open) {
        out.push_str(&rest[..start]);
        let after = &rest[start + open.len()..];
        let end = after
            .find(close)
            .unwrap_or_else(|| panic!("unclosed {open} in {text:?}"));
        let expr = after[..end].trim();
        let value = vars
            .get(expr)
            .unwrap_or_else(|| panic!("the test gives no value for {open} {expr} {close}"));
        out.push_str(value);
        rest = &after[end + close.len()..];
    }
    out.push_str(rest);
    out
}

fn str_of<'a>(v: &'a Yaml, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v:?}"))
}

/// The stored event `id`, asserting it is `kind` with `data.identity` = `identity`.
fn assert_stored(node: &Node, id: &str, kind: &str, identity: &str) -> Value {
    let ev = node.event(id);
    assert_eq!(ev["kind"], kind, "{ev}");
    if !identity.is_empty() {
        assert_eq!(ev["data"]["identity"], identity, "{ev}");
    }
    ev
}

/// Runs a watcher (`--count 1`) until it handled one event; panics if it does not.
fn watch_once(node: &Node, mut cmd: Command, label: &str) {
    cmd.arg("--count").arg("1");
    let log = node.home().join(format!("{label}.log"));
    let mut bg = Background::spawn(cmd, &log, label);
    let status = bg.wait_timeout(WATCH_TIMEOUT).unwrap_or_else(|| {
        panic!(
            "{label} did not handle one event within {WATCH_TIMEOUT:?}:\n{}",
            bg.log()
        )
    });
    assert!(status.success(), "{label} exited {status}:\n{}", bg.log());
}

fn only_request(recv: &Receiver) -> Received {
    let got = recv.got();
    assert_eq!(got.len(), 1, "one request expected: {got:?}");
    got.into_iter().next().expect("one request")
}

/// The `sh '''…'''` steps of one stage of a declarative Jenkinsfile. Groovy would turn `\\`
/// into `\` in such a string, so a step with a backslash is refused: what Jenkins runs is
/// then exactly the text.
fn jenkins_sh_steps(jenkinsfile: &str, stage: &str) -> Vec<String> {
    let head = format!("stage('{stage}')");
    let start = jenkinsfile
        .find(&head)
        .unwrap_or_else(|| panic!("no {head} in the Jenkinsfile"));
    let body = &jenkinsfile[start + head.len()..];
    let body = &body[..body.find("stage(").unwrap_or(body.len())];
    let steps: Vec<String> = body
        .split("sh '''")
        .skip(1)
        .map(|s| s[..s.find("'''").expect("unclosed sh '''")].to_string())
        .collect();
    assert!(!steps.is_empty(), "stage {stage} has no sh ''' step");
    for s in &steps {
        assert!(
            !s.contains('\\'),
            "Groovy would rewrite the backslashes of:\n{s}"
        );
    }
    steps
}

#[test]
fn jenkins_stage_publishes_and_watch_triggers_a_job_by_exec_and_by_webhook() {
    let node = Node::started("odl");
    let jenkinsfile = read("jenkins/Jenkinsfile");
    let env = [
        ("BUILD_NUMBER", "42"),
        ("GIT_BRANCH", "stable/oxygen"),
        (
            "BUILD_URL",
            "https://jenkins.opendaylight.org/job/autorelease/42/",
        ),
        ("JOB_NAME", "autorelease"),
    ];
    let mut out = String::new();
    for step in jenkins_sh_steps(&jenkinsfile, "Publish to fedci") {
        out.push_str(&run_shell(&node, &step, &env));
    }
    let id = printed_id(&out);
    let ev = assert_stored(
        &node,
        &id,
        "artifact.created",
        "pkg:maven/org.opendaylight.integration/karaf@0.8.42",
    );
    assert_eq!(ev["data"]["branch"], "stable/oxygen", "{ev}");
    assert_eq!(ev["data"]["build_url"], env[2].1, "{ev}");

    // watch --exec trigger-jenkins.sh: Jenkins' buildWithParameters gets the event id.
    let jenkins = Receiver::bind();
    let url = jenkins.url();
    let (mut cmd, _work) = ci_command(
        &node,
        contrib("jenkins/watch-exec.sh")
            .to_str()
            .expect("utf-8 path"),
        &[
            ("JENKINS_URL", url.as_str()),
            ("JENKINS_JOB", "opnfv-csit"),
            ("JENKINS_USER", "fedci"),
            ("JENKINS_TOKEN", "s3cret"),
        ],
    );
    cmd.env_remove("FEDCI_EVENT_ID");
    watch_once(&node, cmd, "jenkins watch --exec");
    let req = only_request(&jenkins);
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.path,
        format!(
            "/job/opnfv-csit/buildWithParameters?FEDCI_EVENT_ID={id}&FEDCI_EVENT_KIND=artifact.created"
        )
    );
    assert_eq!(
        req.headers.get("authorization").map(String::as_str),
        Some("Basic ZmVkY2k6czNjcmV0"),
        "JENKINS_USER:JENKINS_TOKEN"
    );

    // The triggered job reads the event it was started for.
    let triggered = read("jenkins/Jenkinsfile.triggered");
    let mut out = String::new();
    for step in jenkins_sh_steps(&triggered, "Read the fedci event") {
        out.push_str(&run_shell(&node, &step, &[("FEDCI_EVENT_ID", id.as_str())]));
    }
    assert!(
        out.contains("testing pkg:maven/org.opendaylight.integration/karaf@0.8.42"),
        "{out}"
    );

    // watch --post: the Generic Webhook Trigger gets the event as a CloudEvent.
    let hook = Receiver::bind();
    let url = hook.url();
    let (cmd, _work) = ci_command(
        &node,
        contrib("jenkins/watch-webhook.sh")
            .to_str()
            .expect("utf-8 path"),
        &[
            ("JENKINS_URL", url.as_str()),
            ("JENKINS_WEBHOOK_TOKEN", "odl-csit"),
        ],
    );
    watch_once(&node, cmd, "jenkins watch --post");
    let req = only_request(&hook);
    assert_eq!(req.path, "/generic-webhook-trigger/invoke?token=odl-csit");
    assert_eq!(
        req.body["customData"]["fedci"]["id"],
        id.as_str(),
        "{req:?}"
    );
    assert!(req.headers.contains_key("ce-type"), "{req:?}");
}

#[test]
fn gitlab_job_publishes_on_success_and_watch_triggers_a_pipeline() {
    let node = Node::started("odl");
    let ci = yaml("gitlab/.gitlab-ci.yml");
    let job = &ci["fedci-publish"];
    assert_eq!(job["when"].as_str(), Some("on_success"), "{job:?}");
    let script = |job: &Yaml| -> String {
        job["script"]
            .as_sequence()
            .expect("script is a list")
            .iter()
            .map(|l| str_of(l, "script line").to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let env = [
        ("CI_PROJECT_NAME", "karaf"),
        ("CI_COMMIT_SHORT_SHA", "1a2b3c4d"),
        ("CI_COMMIT_REF_NAME", "stable/oxygen"),
        ("CI_JOB_URL", "https://gitlab.example/odl/karaf/-/jobs/7"),
        ("CI_PIPELINE_SOURCE", "push"),
    ];
    let id = printed_id(&run_shell(&node, &script(job), &env));
    let ev = assert_stored(&node, &id, "artifact.created", "pkg:generic/karaf@1a2b3c4d");
    assert_eq!(ev["data"]["build_url"], env[3].1, "{ev}");

    // trigger-pipeline.sh under `watch --exec`: GitLab's trigger API gets the event id.
    let gitlab = Receiver::bind();
    let url = gitlab.url();
    let script_path = contrib("gitlab/trigger-pipeline.sh");
    let (mut cmd, _work) = ci_command(
        &node,
        node_bin().to_str().expect("utf-8 path"),
        &[
            ("GITLAB_URL", url.as_str()),
            ("GITLAB_PROJECT_ID", "42"),
            ("GITLAB_TRIGGER_TOKEN", "glptt-t0ken"),
            ("GITLAB_REF", "main"),
        ],
    );
    cmd.args([
        "watch",
        "--community",
        "odl",
        "--kind",
        "artifact.created",
        "--consumer",
        "gitlab-trigger",
        "--exec",
    ])
    .arg(&script_path);
    watch_once(&node, cmd, "gitlab watch --exec");
    let req = only_request(&gitlab);
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/api/v4/projects/42/trigger/pipeline");
    let form = req.body.as_str().unwrap_or_default();
    for part in ["glptt-t0ken", "variables[FEDCI_EVENT_ID]", id.as_str()] {
        assert!(form.contains(part), "form lacks {part}: {form}");
    }

    // The triggered pipeline's job reads the event.
    let out = run_shell(
        &node,
        &script(&ci["on-fedci-event"]),
        &[
            ("CI_PIPELINE_SOURCE", "trigger"),
            ("FEDCI_EVENT_ID", id.as_str()),
        ],
    );
    assert!(out.contains("testing pkg:generic/karaf@1a2b3c4d"), "{out}");
}

#[test]
fn github_workflow_step_and_composite_action_publish() {
    let node = Node::started("odl");
    let wf = yaml("github/workflows/build.yml");
    let steps = wf["jobs"]["build"]["steps"]
        .as_sequence()
        .expect("jobs.build.steps");
    let step = |name: &str| -> &Yaml {
        steps
            .iter()
            .find(|s| s["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no step {name:?}"))
    };
    let outputs = tempfile::tempdir().expect("outputs dir");
    let output_file = outputs.path().join("github_output");
    std::fs::write(&output_file, "").expect("GITHUB_OUTPUT");
    let output_path = output_file.to_str().expect("utf-8 path").to_string();
    let env = [
        ("GITHUB_REPOSITORY", "opendaylight/karaf"),
        ("GITHUB_SHA", "0123456789abcdef"),
        ("GITHUB_REF_NAME", "main"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_RUN_ID", "99"),
        ("GITHUB_OUTPUT", output_path.as_str()),
    ];
    let plain = step("Publish to fedci");
    assert_eq!(plain["if"].as_str(), Some("success()"));
    let out = run_shell(&node, str_of(&plain["run"], "run"), &env);
    let artifact = printed_id(&out);
    assert_stored(
        &node,
        &artifact,
        "artifact.created",
        "pkg:github/opendaylight/karaf@0123456789abcdef",
    );

    // The composite action, with the inputs the workflow gives it.
    let uses = step("Publish to fedci (composite action)");
    assert_eq!(
        uses["uses"].as_str(),
        Some("./contrib/ci/github/fedci-publish")
    );
    let action = yaml("github/fedci-publish/action.yml");
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let ctx: HashMap<&str, String> = HashMap::from([
        ("github.repository", "opendaylight/karaf".to_string()),
        ("steps.artifact.outputs.id", artifact.clone()),
    ]);
    let mut inputs: HashMap<String, String> = HashMap::new();
    for (k, v) in action["inputs"].as_mapping().expect("inputs") {
        if let Some(d) = v["default"].as_str() {
            inputs.insert(format!("inputs.{}", str_of(k, "input")), d.to_string());
        }
    }
    for (k, v) in uses["with"].as_mapping().expect("with") {
        let value = expand(str_of(v, "with value"), "${{", "}}", &ctx);
        inputs.insert(format!("inputs.{}", str_of(k, "with key")), value);
    }
    let inputs: HashMap<&str, String> = inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    std::fs::write(&output_file, "").expect("GITHUB_OUTPUT");
    let mut printed = String::new();
    for s in action["runs"]["steps"].as_sequence().expect("runs.steps") {
        assert_eq!(s["shell"].as_str(), Some("bash"));
        let mut step_env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in s["env"].as_mapping().into_iter().flatten() {
            step_env.push((
                str_of(k, "env key").to_string(),
                expand(str_of(v, "env value"), "${{", "}}", &inputs),
            ));
        }
        let step_env: Vec<(&str, &str)> = step_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        printed.push_str(&run_shell(&node, str_of(&s["run"], "run"), &step_env));
    }
    let id = printed_id(&printed);
    let written = std::fs::read_to_string(&output_file).expect("GITHUB_OUTPUT");
    assert!(
        written.contains(&format!("id={id}")),
        "GITHUB_OUTPUT: {written}"
    );
    let ev = assert_stored(&node, &id, "artifact.published", "");
    assert_eq!(ev["links"][0]["rel"], "ARTIFACT", "{ev}");
    assert_eq!(ev["links"][0]["target"], artifact.as_str(), "{ev}");
    assert_eq!(
        ev["data"]["locations"][0]["uri"], "https://github.com/opendaylight/karaf/releases",
        "{ev}"
    );
}

#[test]
fn zuul_post_run_playbook_publishes_the_result() {
    let node = Node::started("odl");
    let config = yaml("zuul/zuul.yaml");
    let job = config
        .as_sequence()
        .expect("zuul.yaml is a list")
        .iter()
        .find_map(|item| item.get("job"))
        .expect("a job");
    let playbook = str_of(&job["post-run"], "post-run");
    let plays = yaml(&format!("zuul/{playbook}"));
    let task = &plays[0]["tasks"][0];
    assert_eq!(
        task["when"].as_str(),
        Some("zuul_success | bool"),
        "{task:?}"
    );
    let home = node.home().to_str().expect("utf-8 home").to_string();
    let vars: HashMap<&str, String> = HashMap::from([
        ("fedci_home", home),
        ("zuul.project.name", "opendaylight/integration".to_string()),
        ("zuul.branch", "stable/oxygen".to_string()),
        ("zuul.build", "5f1e2d".to_string()),
        ("zuul.tenant", "odl".to_string()),
    ]);
    let env: Vec<(String, String)> = task["environment"]
        .as_mapping()
        .expect("environment")
        .iter()
        .map(|(k, v)| {
            (
                str_of(k, "env key").to_string(),
                expand(str_of(v, "env value"), "{{", "}}", &vars),
            )
        })
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        task["args"]["executable"].as_str(),
        Some("/bin/bash"),
        "the shell runs under bash"
    );
    let out = run_shell(&node, str_of(&task["shell"], "shell"), &env);
    let id = printed_id(&out);
    let ev = assert_stored(
        &node,
        &id,
        "artifact.created",
        "pkg:generic/opendaylight/integration@5f1e2d",
    );
    assert_eq!(
        ev["data"]["build_url"], "https://zuul.opendev.org/t/odl/build/5f1e2d",
        "{ev}"
    );
}
