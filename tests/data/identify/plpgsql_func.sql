CREATE OR REPLACE FUNCTION increment_stock(item_id integer, qty integer)
RETURNS integer AS $$
DECLARE
    new_qty integer;
BEGIN
    UPDATE stock SET quantity = quantity + qty WHERE id = item_id
    RETURNING quantity INTO new_qty;
    RETURN new_qty;
END;
$$ LANGUAGE plpgsql;
