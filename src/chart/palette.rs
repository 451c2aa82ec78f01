//! Run colours shared by the viewer's charts and `mlscope plot`: a palette of distinct colours
//! given in table order, and a stable colour from a run's id for runs not given one yet. Plain
//! RGB triples, so the CLI uses them without the GUI.

use std::collections::BTreeMap;

/// Distinct colours for runs, most distinct first (Tableau 10, then a second set of ten that
/// differ from them in hue or lightness), legible on dark and light backgrounds.
pub const PALETTE: [[u8; 3]; 20] = [
    [0x4e, 0x79, 0xa7],
    [0xf2, 0x8e, 0x2b],
    [0xe1, 0x57, 0x59],
    [0x76, 0xb7, 0xb2],
    [0x59, 0xa1, 0x4f],
    [0xed, 0xc9, 0x48],
    [0xb0, 0x7a, 0xa1],
    [0xff, 0x9d, 0xa7],
    [0x9c, 0x75, 0x5f],
    [0xba, 0xb0, 0xac],
    [0x1f, 0xbe, 0xe8],
    [0xa0, 0xcb, 0x32],
    [0xd6, 0x37, 0xb4],
    [0x8c, 0x6b, 0xf0],
    [0xa8, 0x32, 0x5e],
    [0x17, 0x8f, 0x6a],
    [0xc0, 0x4a, 0x1c],
    [0x6b, 0xa8, 0xff],
    [0xe8, 0x8c, 0xd8],
    [0x8a, 0x8a, 0x2a],
];

/// Palette colours for the runs of `order` (table order) that have none yet: each takes the
/// palette colour least used by the runs of `order` already coloured (the first such in palette
/// order), so the runs on screen get distinct colours while there are colours left.
pub fn assign_colors(order: &[&str], given: &BTreeMap<String, [u8; 3]>) -> Vec<(String, [u8; 3])> {
    let mut uses = [0usize; PALETTE.len()];
    for id in order {
        if let Some(c) = given.get(*id)
            && let Some(i) = PALETTE.iter().position(|p| p == c)
        {
            uses[i] += 1;
        }
    }
    let mut out = Vec::new();
    // Ids already coloured here, looked up in a set: a search of `out` for each id took
    // 50 million comparisons for the 10,000 rows of a large store, on the UI thread.
    let mut assigned: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for id in order {
        if given.contains_key(*id) || !assigned.insert(*id) {
            continue;
        }
        let (i, _) = uses
            .iter()
            .enumerate()
            .min_by_key(|&(i, n)| (*n, i))
            .unwrap_or((0, &0));
        uses[i] += 1;
        out.push(((*id).to_string(), PALETTE[i]));
    }
    out
}

/// FNV-1a: a hash that is the same in every build and on every machine.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The colour of a run before it is given one: the same run id always gets the same colour. The hue comes from a hash
/// of the id (continuous, so that two runs rarely share a colour); saturation and lightness are
/// fixed to read on dark and light backgrounds.
pub fn run_rgb(run_id: &str) -> [u8; 3] {
    let h = fnv1a(run_id.as_bytes());
    let hue = (h % 3600) as f32 / 3600.0;
    // Slight lightness variation separates neighbouring hues a little more.
    let lightness = 0.52 + ((h >> 20) % 3) as f32 * 0.06;
    hsl(hue, 0.68, lightness)
}

/// A colour from hue, saturation and lightness in `0..=1`.
fn hsl(h: f32, s: f32, l: f32) -> [u8; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h * 6.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let to = |v: f32| ((v + m).clamp(0.0, 1.0) * 255.0).round() as u8;
    [to(r), to(g), to(b)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_colours_are_stable_and_spread() {
        assert_eq!(run_rgb("abc"), run_rgb("abc"));
        let ids: Vec<String> = (0..40).map(|i| format!("{i:032x}")).collect();
        let distinct: std::collections::HashSet<_> = ids.iter().map(|i| run_rgb(i)).collect();
        assert!(distinct.len() > 35);
        assert_eq!(hsl(0.0, 1.0, 0.5), [255, 0, 0]);
        assert_eq!(hsl(1.0 / 3.0, 1.0, 0.5), [0, 255, 0]);
    }

    #[test]
    fn a_run_listed_twice_gets_one_colour() {
        let new = assign_colors(&["a", "b", "a", "c", "b"], &BTreeMap::new());
        assert_eq!(
            new,
            vec![
                ("a".to_string(), PALETTE[0]),
                ("b".to_string(), PALETTE[1]),
                ("c".to_string(), PALETTE[2])
            ]
        );
    }

    #[test]
    fn palette_colours_go_in_table_order_distinct_and_stay() {
        let ids: Vec<String> = (0..19).map(|i| format!("{i:032x}")).collect();
        let order: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut given = BTreeMap::new();
        let new = assign_colors(&order, &given);
        assert_eq!(new.len(), 19);
        assert_eq!(new[0].1, PALETTE[0]);
        let distinct: std::collections::HashSet<_> = new.iter().map(|(_, c)| *c).collect();
        assert_eq!(distinct.len(), 19);
        given.extend(new);
        // Once given, a colour stays, whatever the order; a new run takes an unused colour.
        let mut reordered = order.clone();
        reordered.reverse();
        reordered.push("new");
        let more = assign_colors(&reordered, &given);
        assert_eq!(more, vec![("new".to_string(), PALETTE[19])]);
        // Hashed colours collided (4 teals among the demo's 19 runs): the palette's do not
        // come close to each other.
        for (i, a) in PALETTE.iter().enumerate() {
            for b in &PALETTE[i + 1..] {
                let d: i32 = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (*x as i32 - *y as i32).abs())
                    .sum();
                assert!(d > 60, "{a:?} {b:?}");
            }
        }
    }
}
