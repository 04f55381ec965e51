export async function seedDemo(..._a: unknown[]): Promise<any> {
  return null;
}
