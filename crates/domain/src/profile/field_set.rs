//! Sets of a profile's top-level fields (which fields a record names, which ones a change
//! touched), as bit sets over each profile kind's field enum.

use std::fmt;
use std::marker::PhantomData;

/// A profile kind's top-level field names.
pub trait FieldName: Copy + Eq + fmt::Debug + 'static {
    /// Every field, in declaration order.
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
    /// The field's position in [`FieldName::ALL`] (below 32).
    fn bit(self) -> u32;
}

/// A set of fields of one profile kind.
pub struct FieldSet<F> {
    bits: u32,
    kind: PhantomData<F>,
}

impl<F> Clone for FieldSet<F> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<F> Copy for FieldSet<F> {}
impl<F> PartialEq for FieldSet<F> {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}
impl<F> Eq for FieldSet<F> {}
impl<F> Default for FieldSet<F> {
    fn default() -> Self {
        FieldSet {
            bits: 0,
            kind: PhantomData,
        }
    }
}

impl<F: FieldName> fmt::Debug for FieldSet<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl<F: FieldName> FieldSet<F> {
    pub fn insert(&mut self, field: F) {
        self.bits |= 1 << field.bit();
    }

    pub fn contains(self, field: F) -> bool {
        self.bits & (1 << field.bit()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.bits == 0
    }

    pub fn union(self, other: FieldSet<F>) -> FieldSet<F> {
        FieldSet {
            bits: self.bits | other.bits,
            kind: PhantomData,
        }
    }

    pub fn iter(self) -> impl Iterator<Item = F> {
        F::ALL
            .iter()
            .copied()
            .filter(move |field| self.contains(*field))
    }

    /// The fields' names in alphabetical order (as results and events list them).
    pub fn names(self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.iter().map(F::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The raw bits (for storage).
    pub fn bits(self) -> u32 {
        self.bits
    }

    /// The set of the fields named in `names` (names of no field are left out).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> FieldSet<F> {
        let mut set = FieldSet::default();
        for name in names {
            if let Some(field) = F::ALL.iter().find(|field| field.as_str() == name) {
                set.insert(*field);
            }
        }
        set
    }
}

/// Sets `slot` from `field` (absent: unchanged, `null`: cleared) and records `name` in
/// `changed` when the value really differs.
pub(crate) fn assign<T: PartialEq + Clone, F: FieldName>(
    slot: &mut Option<T>,
    field: &crate::field::Field<T>,
    name: F,
    changed: &mut FieldSet<F>,
) {
    use crate::field::Field;
    let next = match field {
        Field::Absent => return,
        Field::Clear => None,
        Field::Set(value) => Some(value.clone()),
    };
    if *slot != next {
        *slot = next;
        changed.insert(name);
    }
}

/// Declares a field enum with its names and implements [`FieldName`].
macro_rules! field_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $crate::profile::field_set::FieldName for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            fn bit(self) -> u32 {
                self as u32
            }
        }
    };
}
pub(crate) use field_enum;

#[cfg(test)]
mod tests {
    use super::*;

    field_enum!(Demo { B => "b", A => "a", C => "c" });

    #[test]
    fn sets_list_their_names_alphabetically() {
        let mut set = FieldSet::<Demo>::default();
        assert!(set.is_empty());
        set.insert(Demo::C);
        set.insert(Demo::A);
        assert!(set.contains(Demo::A) && !set.contains(Demo::B));
        assert_eq!(set.names(), vec!["a", "c"]);
        let mut other = FieldSet::default();
        other.insert(Demo::B);
        assert_eq!(set.union(other).names(), vec!["a", "b", "c"]);
    }
}
