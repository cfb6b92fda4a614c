//! Settings difflore cannot read or does not expect: an error naming where, the file left
//! untouched.

use std::fs;

use difflore::install::{self, Client, InstallError};
use serde_json::json;

use super::support::{Dirs, write_json};

#[test]
fn malformed_file_is_an_error_naming_the_position_and_left_untouched() {
    for client in install::SETTINGS_FILES {
        let dirs = Dirs::new();
        let request = dirs.user(client);
        let path = request.settings_path();
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let bad = b"{\n  \"hooks\": {\n    \"x\": [,]\n  }\n}\n";
        fs::write(&path, bad).unwrap();
        for result in [
            install::install(&request).map(|_| ()),
            install::uninstall(&request).map(|_| ()),
            install::print(&request).map(|_| ()),
        ] {
            let err = result.unwrap_err();
            match &err {
                InstallError::Parse { path: p, line, .. } => {
                    assert_eq!(p, &path);
                    assert_eq!(*line, 3);
                }
                other => panic!("{client:?}: expected a parse error, got {other:?}"),
            }
            let message = err.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("line 3, column"), "{message}");
        }
        assert_eq!(fs::read(&path).unwrap(), bad, "{client:?}");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{client:?}: stray files {names:?}");
    }
}

#[test]
fn unexpected_shape_is_an_error_naming_the_value() {
    let dirs = Dirs::new();
    let request = dirs.user(Client::Gemini);
    let path = request.settings_path();
    write_json(
        &path,
        &json!({ "hooks": { "BeforeTool": { "not": "a list" } } }),
    );
    let before = fs::read(&path).unwrap();
    let err = install::install(&request).unwrap_err();
    assert!(err.to_string().contains("/hooks/BeforeTool"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before);
    write_json(&path, &json!([1, 2]));
    let err = install::install(&request).unwrap_err();
    assert!(matches!(err, InstallError::Shape { .. }), "{err:?}");
}
