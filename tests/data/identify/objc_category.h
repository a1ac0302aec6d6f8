#import <Foundation/Foundation.h>

@interface NSString (Trimming)
- (NSString *)trimmed;
- (BOOL)isBlank;
@end
