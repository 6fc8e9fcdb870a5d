//! `Field<T>`: the three states of an optional field in a record (absent, explicit null, value).

/// A field of a record: update semantics need to tell "absent" (leave as is) from "null" (clear).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Field<T> {
    #[default]
    Absent,
    Clear,
    Set(T),
}

impl<T> Field<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    /// The value if set; `None` for both absent and null.
    pub fn value(&self) -> Option<&T> {
        match self {
            Field::Set(value) => Some(value),
            _ => None,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Field::Absent => Field::Absent,
            Field::Clear => Field::Clear,
            Field::Set(value) => Field::Set(f(value)),
        }
    }

    /// Applies `later` on top of `self`: a later present field (value or null) wins.
    pub fn overlay(self, later: Field<T>) -> Field<T> {
        if later.is_absent() { self } else { later }
    }
}
