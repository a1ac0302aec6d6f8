#import "NSString+Trimming.h"

@implementation NSString (Trimming)

- (NSString *)trimmed {
    return [self stringByTrimmingCharactersInSet:[NSCharacterSet whitespaceAndNewlineCharacterSet]];
}

- (BOOL)isBlank {
    return [[self trimmed] length] == 0;
}

@end
