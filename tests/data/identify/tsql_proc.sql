CREATE PROCEDURE dbo.GetOrders
    @CustomerId INT
AS
BEGIN
    SET NOCOUNT ON;
    SELECT TOP 10 OrderId, Total
    FROM dbo.Orders
    WHERE CustomerId = @CustomerId
    ORDER BY OrderDate DESC;
END
GO
