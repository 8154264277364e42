"""The contract's fixed tables and rules, as code."""

from features.constants import SKP_EXPECTATIONS, SKP_MATRIX, TABLES, skp_rating


def test_skp_matrix_follows_permenpan_rb_6_2022() -> None:
    above, as_, below = SKP_EXPECTATIONS
    assert skp_rating(above, above) == "sangat_baik"
    assert skp_rating(above, as_) == "baik"
    assert skp_rating(as_, as_) == "baik"
    assert skp_rating(as_, above) == "baik"
    assert skp_rating(below, above) == "butuh_perbaikan"
    assert skp_rating(below, as_) == "butuh_perbaikan"
    assert skp_rating(above, below) == "kurang"
    assert skp_rating(as_, below) == "kurang"
    assert skp_rating(below, below) == "sangat_kurang"
    assert len(SKP_MATRIX) == 9


def test_every_foreign_key_points_at_a_declared_table_and_column() -> None:
    by_name = {t.name: t for t in TABLES}
    for table in TABLES:
        for column, target_table, target_column in table.foreign_keys:
            assert column in table.column_names
            assert target_column in by_name[target_table].column_names
        for column in table.key:
            assert column in table.column_names
