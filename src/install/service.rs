//! The text of a systemd user unit and a launchd agent that keep `difflored --foreground`
//! running (`difflorectl service print --systemd|--launchd`). Returns text only: installing
//! and starting the service is left to the user's own `systemctl`/`launchctl`.

use std::path::Path;

/// The unit's file name under `~/.config/systemd/user/`.
pub const SYSTEMD_UNIT: &str = "difflored.service";
/// The launchd job label; the plist goes to `~/Library/LaunchAgents/<label>.plist`.
pub const LAUNCHD_LABEL: &str = "difflore.difflored";

/// A systemd user unit running `difflored --foreground` with `DIFFLORE_HOME` set.
pub fn systemd_unit(difflored: &Path, data_home: &Path) -> String {
    let unit_path = "~/.config/systemd/user/".to_string() + SYSTEMD_UNIT;
    format!(
        "\
# difflored: ships the events difflore-hook captured to the team's collector.
# Save as {unit_path}, then:
#   systemctl --user daemon-reload
#   systemctl --user enable --now difflored
# `systemctl --user reload difflored` re-reads config.toml; difflorectl status shows it.

[Unit]
Description=difflore daemon: ships captured coding-agent events to the collector

[Service]
Type=simple
Environment={env}
ExecStart={exec} --foreground
ExecReload=kill -HUP $MAINPID
Restart=on-failure
RestartSec=5

[Install]
WantedBy=default.target
",
        env = systemd_word(&format!("DIFFLORE_HOME={}", data_home.display()), false),
        exec = systemd_word(&difflored.display().to_string(), true),
    )
}

/// A launchd agent running `difflored --foreground` at login, restarted when it fails.
pub fn launchd_plist(difflored: &Path, data_home: &Path) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!--
  difflored: ships the events difflore-hook captured to the team's collector.
  Save as ~/Library/LaunchAgents/{label}.plist, then:
    launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/{label}.plist
-->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>{label}</string>
  <key>ProgramArguments</key>
  <array>
    <string>{program}</string>
    <string>--foreground</string>
  </array>
  <key>EnvironmentVariables</key>
  <dict>
    <key>DIFFLORE_HOME</key>
    <string>{home}</string>
  </dict>
  <key>RunAtLoad</key>
  <true/>
  <!-- Restart after a crash, not after `difflorectl stop` (a clean exit). -->
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ThrottleInterval</key>
  <integer>5</integer>
</dict>
</plist>
"#,
        label = LAUNCHD_LABEL,
        program = xml_escape(&difflored.display().to_string()),
        home = xml_escape(&data_home.display().to_string()),
    )
}

/// One word of a unit file line: `%` is a specifier and `$` a variable (in `ExecStart=`),
/// so both are doubled; anything unusual goes inside double quotes with C escapes.
fn systemd_word(word: &str, expands_variables: bool) -> String {
    let mut escaped = String::with_capacity(word.len());
    let mut quote = word.is_empty();
    for c in word.chars() {
        match c {
            '%' => escaped.push_str("%%"),
            '$' if expands_variables => escaped.push_str("$$"),
            '\\' => {
                quote = true;
                escaped.push_str(r"\\");
            }
            '"' => {
                quote = true;
                escaped.push_str("\\\"");
            }
            '\n' => {
                quote = true;
                escaped.push_str(r"\n");
            }
            c if c.is_whitespace() || c == '\'' || c == ';' => {
                quote = true;
                escaped.push(c);
            }
            c => escaped.push(c),
        }
    }
    if quote {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_words_escape_specifiers_variables_and_spaces() {
        assert_eq!(
            systemd_word("/usr/bin/difflored", true),
            "/usr/bin/difflored"
        );
        assert_eq!(systemd_word("/a b/100%/$x", true), "\"/a b/100%%/$$x\"");
        assert_eq!(systemd_word("HOME=/a $x", false), "\"HOME=/a $x\"");
        assert_eq!(systemd_word(r#"/a"b\c"#, true), r#""/a\"b\\c""#);
    }

    #[test]
    fn plist_strings_are_xml_escaped() {
        let plist = launchd_plist(Path::new("/Apps/A&B <x>/difflored"), Path::new("/h"));
        assert!(plist.contains("<string>/Apps/A&amp;B &lt;x&gt;/difflored</string>"));
    }
}
