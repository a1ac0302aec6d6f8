DECLARE @total INT;
SELECT @total = COUNT(*) FROM [dbo].[Users] WITH (NOLOCK);
IF @total > 100
BEGIN
    PRINT 'large';
END
GO
