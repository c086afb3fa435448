"""Small hand-written BVH files shared by the BVH tests."""

# Root: ZXY order with positions; Spine: XYZ order with its own position channels; Head: ZXY.
SMALL_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 5 0
    CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation
    JOINT Head
    {
      OFFSET 0 2 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 1 0
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.05
10 0 0 90 0 0 0 5 0 90 0 0 0 0 0
0 0 0 0 0 0 0 7 0 0 0 0 0 0 0
"""
