DECLARE
  v_count NUMBER;
BEGIN
  SELECT COUNT(*) INTO v_count FROM employees;
  DBMS_OUTPUT.PUT_LINE('employees: ' || v_count);
EXCEPTION
  WHEN NO_DATA_FOUND THEN
    NULL;
END;
/
