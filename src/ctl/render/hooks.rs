//! Words for `difflorectl hooks`: what changed in which file, and what the user still has
//! to do (the installer's notes).

use super::Message;
use crate::ctl::hooks::HooksOutcome;
use crate::install::{Action, InstallOutcome};

pub fn hooks(o: &HooksOutcome) -> Message {
    match o {
        HooksOutcome::Preview(p) => Message::out(p.text.clone()),
        HooksOutcome::Changed(o) => changed(o),
    }
}

fn changed(o: &InstallOutcome) -> Message {
    let client = o.client.as_str();
    let path = o.path.display();
    let trust_changed = o.trust.as_ref().is_some_and(|t| t.recorded + t.removed > 0);
    let mut text = match (o.action, o.changed || trust_changed) {
        (Action::Install, true) if o.changed => format!(
            "installed difflore's hook for {client} on {} events in {path}",
            o.entries
        ),
        (Action::Install, true) => format!(
            "difflore's hook for {client} is already installed on {} events in {path}",
            o.entries
        ),
        (Action::Install, false) => format!(
            "difflore's hook for {client} is already installed on {} events in {path}; nothing changed",
            o.entries
        ),
        (Action::Uninstall, true) if !o.changed => {
            format!("no difflore hooks for {client} in {path}")
        }
        (Action::Uninstall, true) => format!(
            "removed {} difflore hook entr{} for {client} from {path}",
            o.entries,
            if o.entries == 1 { "y" } else { "ies" }
        ),
        (Action::Uninstall, false) => {
            format!("no difflore hooks for {client} in {path}; nothing changed")
        }
    };
    if let Some(backup) = &o.backup {
        text.push_str(&format!(
            "\nthe previous file is saved as {}",
            backup.display()
        ));
    }
    if let Some(trust) = o.trust.as_ref().filter(|t| t.recorded + t.removed > 0) {
        let config = trust.config.display();
        text.push_str(&match o.action {
            Action::Install => format!(
                "\ntrusted difflore's {} hook entries in {config}, as Codex's /hooks screen would",
                trust.trusted
            ),
            Action::Uninstall => format!(
                "\nremoved difflore's trust records ({}) from {config}",
                trust.removed
            ),
        });
        if let Some(backup) = &trust.backup {
            text.push_str(&format!(
                "\nthe previous file is saved as {}",
                backup.display()
            ));
        }
    }
    for note in &o.notes {
        text.push_str(&format!("\nnote: {note}"));
    }
    Message::out(text)
}
