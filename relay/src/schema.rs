//! Objects live for years and keep the tables their first version made: a column added
//! since is added to an older table the first time a newer version wakes the object.

use serde::Deserialize;
use worker::{Result, SqlStorage};

/// Adds each `(name, definition)` column `table` lacks.
pub fn add_missing_columns(sql: &SqlStorage, table: &str, columns: &[(&str, &str)]) -> Result<()> {
    #[derive(Deserialize)]
    struct Column {
        name: String,
    }
    let present: Vec<Column> = sql.exec(&format!("PRAGMA table_info({table})"), None)?.to_array()?;
    for (name, definition) in columns {
        if !present.iter().any(|c| &c.name == name) {
            sql.exec(&format!("ALTER TABLE {table} ADD COLUMN {name} {definition}"), None)?;
        }
    }
    Ok(())
}
